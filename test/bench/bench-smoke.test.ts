/**
 * Keeps the benchmark harness from rotting: every part runs tiny (`npm run bench -- --smoke`) and must finish and
 * write its report. Nothing here looks at a time: timings on a shared CI machine are noise.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { projectRoot, temporaryDirectory } from '../../scripts/support/processes.js';

it('runs every benchmark part in smoke mode and writes the report', () => {
  const scratch = temporaryDirectory('bench-smoke');
  try {
    const out = path.join(scratch.path, 'BENCHMARKS.smoke.md');
    const run = spawnSync(process.execPath, ['scripts/bench.mjs', '--smoke', `--out=${out}`], {
      cwd: projectRoot,
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect(run.status, `${run.stdout.slice(-3_000)}\n${run.stderr.slice(-2_000)}`).toBe(0);
    const report = readFileSync(out, 'utf8');
    for (const heading of ['## Machine and versions', '## Targets', '## Results', '## Method']) expect(report).toContain(heading);
    expect(report).not.toContain('FAILED');
  } finally {
    scratch.remove();
  }
}, 300_000);
