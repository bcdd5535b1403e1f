// `npm start` / `npm run dev` / `npm run reset`: prepares the machine (scripts/bootstrap.mjs), then runs the local
// stack (scripts/local-stack.ts) and passes Ctrl-C and SIGTERM on to it.
import { ensureSetup, runTypeScript } from './bootstrap.mjs';

const args = process.argv.slice(2);
ensureSetup({ chromium: !args.includes('--reset') && (process.env.WA_ENGINE || 'webjs') === 'webjs' });
runTypeScript('scripts/local-stack.ts', args);
