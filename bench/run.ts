/**
 * The benchmarks (`npm run bench`): runs each part in a process of its own (bench/parts/*.ts), one after the other,
 * prints the tables and writes them with the machine, the versions, the method and the targets to BENCHMARKS.md.
 *
 *   npm run bench                  every part, written to BENCHMARKS.md (about 6 minutes)
 *   npm run bench -- --smoke       every part tiny and fast, written to a temporary file (checks the harness only)
 *   npm run bench -- --only=paths,cold-start   some parts; --out=<file> writes elsewhere
 *
 * A part that fails is reported as failed; the others still run. Every process a part starts is stopped by PID.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { projectRoot, startProcess } from '../scripts/support/processes.js';
import type { PartReport, Table, TargetCheck } from './support/report.js';

const parts = [
  { name: 'paths', file: 'bench/parts/paths.ts', timeoutMs: 8 * 60_000 },
  { name: 'sessions', file: 'bench/parts/sessions.ts', timeoutMs: 6 * 60_000 },
  { name: 'cold-start', file: 'bench/parts/cold-start.ts', timeoutMs: 3 * 60_000 },
  { name: 'failover', file: 'bench/parts/failover.ts', timeoutMs: 3 * 60_000 },
] as const;

const args = process.argv.slice(2);
const smoke = args.includes('--smoke') || process.env.BENCH_SMOKE === '1';
const only = args.find((arg) => arg.startsWith('--only='))?.slice('--only='.length).split(',');
const outArg = args.find((arg) => arg.startsWith('--out='))?.slice('--out='.length);
const scratch = mkdtempSync(path.join(tmpdir(), 'wa-bench-run-'));
const outFile = outArg ?? (smoke ? path.join(scratch, 'BENCHMARKS.smoke.md') : path.join(projectRoot, 'BENCHMARKS.md'));

function quiet(command: string, commandArgs: string[]): string {
  try {
    return execFileSync(command, commandArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return 'n/a';
  }
}

function packageVersion(name: string): string {
  try {
    const manifest = JSON.parse(readFileSync(path.join(projectRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version?: string };
    return manifest.version ?? 'n/a';
  } catch {
    return 'n/a';
  }
}

function machine(): string[] {
  const os = /PRETTY_NAME="([^"]+)"/.exec(quiet('cat', ['/etc/os-release']))?.[1] ?? 'n/a';
  const commit = quiet('git', ['-C', projectRoot, 'rev-parse', '--short', 'HEAD']);
  const dirty = quiet('git', ['-C', projectRoot, 'status', '--porcelain']) === '' ? '' : ' (with uncommitted changes)';
  return [
    `- CPU: ${cpus().length} × ${cpus()[0]?.model ?? 'n/a'}; memory ${(totalmem() / 1024 ** 3).toFixed(0)} GB; Linux ${release()}; ${os}`,
    `- Node ${process.version}; ${quiet('redis-server', ['--version']).replace(/ sha=.*$/, '')}; ${quiet('chromium', ['--version'])}`,
    `- Packages: ${['ioredis', 'hono', 'zod', 'pino', '@aws-sdk/client-apigatewaymanagementapi', 'serverless-offline', 'serverless', 'esbuild', 'whatsapp-web.js', 'puppeteer', 'ws', 'tsx']
      .map((name) => `${name} ${packageVersion(name)}`)
      .join(', ')}`,
    `- Load: 1/5/15-min load average ${loadavg().map((load) => load.toFixed(1)).join(' / ')} at the end of the run (above ~2 on this machine, other work shared the CPUs and the figures are pessimistic)`,
    `- Code: commit ${commit}${dirty}; run ${new Date().toISOString()}${smoke ? ' (SMOKE: tiny runs, the figures mean nothing)' : ''}`,
  ];
}

function markdownTable(table: Table): string {
  const escapeCell = (cell: string) => cell.replace(/\|/g, '\\|');
  return [
    `**${table.title}**`,
    '',
    `| ${table.columns.map(escapeCell).join(' | ')} |`,
    `| ${table.columns.map(() => '---').join(' | ')} |`,
    ...table.rows.map((row) => `| ${row.map(escapeCell).join(' | ')} |`),
  ].join('\n');
}

function textTable(table: Table): string {
  const widths = table.columns.map((column, index) => Math.max(column.length, ...table.rows.map((row) => (row[index] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join('  ');
  return [table.title, line(table.columns), line(widths.map((width) => '-'.repeat(width))), ...table.rows.map(line)].join('\n');
}

const verdict = (met: boolean | null) => (met === null ? '—' : met ? '**met**' : '**not met**');

async function runPartProcess(part: (typeof parts)[number]): Promise<PartReport | { failed: string; part: string }> {
  const resultFile = path.join(scratch, `${part.name}.json`);
  const started = Date.now();
  process.stdout.write(`\n▶ ${part.name}${smoke ? ' (smoke)' : ''}\n`);
  const child = startProcess({
    name: `bench part ${part.name}`,
    command: process.execPath,
    args: ['--import', 'tsx', part.file, '--result', resultFile, ...(smoke ? ['--smoke'] : [])],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    inheritOutput: true,
  });
  const stopChild = () => void child.stop(15_000);
  process.once('SIGINT', stopChild);
  process.once('SIGTERM', stopChild);
  const timer = setTimeout(() => {
    process.stdout.write(`  ${part.name} took longer than ${part.timeoutMs / 1000} s: stopping it\n`);
    void child.stop(15_000);
  }, part.timeoutMs);
  const { code, signal } = await child.exited;
  clearTimeout(timer);
  process.off('SIGINT', stopChild);
  process.off('SIGTERM', stopChild);
  process.stdout.write(`  ${part.name} done in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  try {
    if (code !== 0) throw new Error(`exited with ${code ?? signal}`);
    return JSON.parse(readFileSync(resultFile, 'utf8')) as PartReport;
  } catch (error) {
    const tail = child.output().split('\n').filter((line) => /failed|Error/.test(line)).slice(-5).join(' / ');
    return { failed: `${error instanceof Error ? error.message : String(error)}${tail === '' ? '' : `: ${tail}`}`, part: part.name };
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const reports: Array<PartReport | { failed: string; part: string }> = [];
  for (const part of parts) {
    if (only !== undefined && !only.includes(part.name)) continue;
    reports.push(await runPartProcess(part));
  }
  const done = reports.filter((report): report is PartReport => !('failed' in report));
  const failed = reports.filter((report): report is { failed: string; part: string } => 'failed' in report);
  // Smoke figures come from runs far too short to judge a target by.
  const targets: TargetCheck[] = done.flatMap((report) => report.targets).map((target) => (smoke ? { ...target, met: null } : target));

  const markdown = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (bench/run.ts, ${((Date.now() - started) / 1000).toFixed(0)} s${smoke ? ', smoke mode' : ''}). Every figure below was measured in this one run, each next to its floor. ` +
      'Timings on a shared or busy machine are noise: CI runs only `npm run bench -- --smoke`, which checks that the harness ' +
      'works and writes to a temporary file, and no test asserts a time.',
    '',
    '## Machine and versions',
    '',
    ...machine(),
    '',
    '## Targets',
    '',
    '| target | measured | verdict | what limits it |',
    '| --- | --- | --- | --- |',
    ...targets.map((target) => `| ${[target.target, target.measured, verdict(target.met), target.limit].map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`),
    ...failed.map((failure) => `| part \`${failure.part}\` | FAILED: ${failure.failed.replace(/\|/g, '\\|')} | **not measured** | — |`),
    '',
    '## Results',
    '',
    ...done.flatMap((report) => [`### ${report.title}`, '', ...report.tables.flatMap((table) => [markdownTable(table), '']), ...report.notes.map((note) => `- ${note}`), '']),
    '## Method',
    '',
    ...done.flatMap((report) => report.method.map((line) => `- ${line}`)),
    '- Commands: `npm run bench` (everything, writes this file), `npm run bench -- --only=paths|sessions|cold-start`, ' +
      '`npm run bench -- --smoke` (every part tiny, < 60 s, to a temporary file). Each part runs in a process of its own ' +
      'and starts and stops its own redis-server, session host and serverless offline (scripts/support), on free loopback ports.',
    '',
  ].join('\n');
  writeFileSync(outFile, markdown);

  process.stdout.write('\n');
  for (const report of done) for (const table of report.tables) process.stdout.write(`${textTable(table)}\n\n`);
  process.stdout.write('Targets\n');
  for (const target of targets) process.stdout.write(`  [${target.met === null ? ' - ' : target.met ? 'met' : 'NOT'}] ${target.target}: ${target.measured}\n`);
  for (const failure of failed) process.stdout.write(`  [FAILED] ${failure.part}: ${failure.failed}\n`);
  process.stdout.write(`\nWritten to ${outFile} in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  process.exitCode = failed.length > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
