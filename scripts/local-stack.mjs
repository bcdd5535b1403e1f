// `npm start` / `npm run dev`: prepares the machine (scripts/bootstrap.mjs), then runs the local stack
// (scripts/local-stack.ts) and passes Ctrl-C on to it.
import { spawn } from 'node:child_process';
import { ensureSetup, projectRoot } from './bootstrap.mjs';

const engine = process.env.WA_ENGINE || 'webjs';
ensureSetup({ chromium: engine === 'webjs' });

const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/local-stack.ts', ...process.argv.slice(2)], {
  cwd: projectRoot,
  stdio: 'inherit',
  env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
