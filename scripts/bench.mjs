#!/usr/bin/env node
// `npm run bench`: the benchmarks (bench/run.ts, run with tsx). Arguments pass through:
//   npm run bench                     everything, written to BENCHMARKS.md
//   npm run bench -- --smoke          every part tiny and fast (< 60 s), written to a temporary file (also BENCH_SMOKE=1)
//   npm run bench -- --only=paths     one or more parts: paths, sessions, cold-start; --out=<file> to write elsewhere
import { spawn } from 'node:child_process';
import { ensureSetup, projectRoot as root } from './bootstrap.mjs';

ensureSetup({ chromium: true });
const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
