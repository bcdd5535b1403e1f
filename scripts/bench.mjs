#!/usr/bin/env node
// `npm run bench`: the benchmarks (bench/run.ts, run with tsx). Arguments pass through:
//   npm run bench                     everything, written to BENCHMARKS.md
//   npm run bench -- --smoke          every part tiny and fast (< 60 s), written to a temporary file (also BENCH_SMOKE=1)
//   npm run bench -- --only=paths     one or more parts: paths, sessions, cold-start, failover; --out=<file> to write elsewhere
import { ensureSetup, runTypeScript } from './bootstrap.mjs';

ensureSetup({ chromium: true });
runTypeScript('bench/run.ts', process.argv.slice(2));
