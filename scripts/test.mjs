// `npm test`: prepares the machine (scripts/bootstrap.mjs), type-checks, lints, runs every vitest test, and ends with
// one plain line `N passed, N failed` (the type check and the lint count as one test each). Arguments go to vitest
// (a file, -t NAME).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ensureSetup, projectRoot } from './bootstrap.mjs';

ensureSetup({ chromium: true });

const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
const bin = (name) => path.join(projectRoot, 'node_modules', '.bin', name);

process.stdout.write('\n> type check (tsc --noEmit)\n');
const typecheck = spawnSync(bin('tsc'), ['--noEmit', '-p', '.'], { cwd: projectRoot, stdio: 'inherit', env });
const typecheckPassed = typecheck.status === 0;

process.stdout.write('\n> lint (biome lint)\n');
const lint = spawnSync(bin('biome'), ['lint', '--error-on-warnings', '.'], { cwd: projectRoot, stdio: 'inherit', env });
const lintPassed = lint.status === 0;

const reportDir = path.join(projectRoot, '.local');
mkdirSync(reportDir, { recursive: true });
const reportFile = path.join(reportDir, 'vitest-report.json');
rmSync(reportFile, { force: true });
process.stdout.write('\n> vitest run\n');
const vitest = spawnSync(
  bin('vitest'),
  ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`, ...process.argv.slice(2)],
  { cwd: projectRoot, stdio: 'inherit', env },
);

let passed = (typecheckPassed ? 1 : 0) + (lintPassed ? 1 : 0);
let failed = (typecheckPassed ? 0 : 1) + (lintPassed ? 0 : 1);
let skipped = 0;
try {
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + (report.numTodoTests ?? 0);
  // A file that fails to load has no failed test of its own: count it, so that it cannot pass unnoticed.
  for (const file of report.testResults ?? []) {
    if (file.status === 'failed' && (file.assertionResults ?? []).every((test) => test.status !== 'failed')) failed += 1;
  }
} catch {
  process.stdout.write('vitest wrote no report\n');
  failed += 1;
}
if (vitest.status !== 0 && failed === 0) failed = 1;
process.stdout.write(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed === 0 && vitest.status === 0 ? 0 : 1);
