// `npm start` / `npm run dev`: prepares the machine (scripts/bootstrap.mjs), then runs the local stack
// (scripts/local-stack.ts) and passes Ctrl-C on to it.
import { ensureSetup, runTypeScript } from './bootstrap.mjs';

ensureSetup({ chromium: (process.env.WA_ENGINE || 'webjs') === 'webjs' });
runTypeScript('scripts/local-stack.ts', process.argv.slice(2));
