/**
 * Part 3 of the benchmarks: sessions per host.
 *
 * - Simulated sessions: one session host (simulator) of its own; N sessions created and scanned by commands pushed
 *   straight onto its inbox; the host process's memory (RSS and PSS from /proc) before and after, per session.
 * - `webjs` sessions: PSS of the Chromium process trees per session, Chromium's default flags against ours (see
 *   webjs-memory.ts).
 */
import { simulatorControl } from '../../contract/simulator.js';
import { waitFor } from '../../scripts/support/processes.js';
import { memoryOf, type Memory } from '../support/proc.js';
import { inParallel, startBenchStack } from '../support/bench-stack.js';
import { runPart, type PartReport, type Table, type TargetCheck } from '../support/report.js';
import { megabytes, ms, sleep } from '../support/stats.js';
import { measureWebjsMemory } from './webjs-memory.js';

runPart(async (context): Promise<PartReport> => {
  const steps = context.smoke ? [20, 100] : [1_000, 10_000];
  const settleMs = context.smoke ? 500 : 3_000;
  const stack = await startBenchStack(context, { offline: false });

  const redisMemory = async () => {
    const info = await stack.client.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 'NaN');
  };
  await sleep(settleMs);
  const baseline = memoryOf(stack.host.pid);
  const redisBaseline = await redisMemory();
  const rows: string[][] = [['0 (idle host)', megabytes(baseline.rss), megabytes(baseline.pss), '—', '—', '—', '—']];
  const perStep: Array<{ sessions: number; memory: Memory; perSessionPss: number; seconds: number }> = [];
  let created = 0;
  for (const target of steps) {
    context.log(`simulated sessions: creating and scanning up to ${target}`);
    const ids = Array.from({ length: target - created }, (_, index) => created + index + 1);
    const started = performance.now();
    await inParallel(ids, 32, async (number) => {
      const sessionId = `sim-${number}`;
      await stack.bus.request({ hostId: stack.hostId, sessionId }, { type: 'create' }, 60_000);
      await stack.bus.request({ hostId: stack.hostId, sessionId }, simulatorControl('scan', { phone: `1555${String(number).padStart(7, '0')}` }), 60_000);
    });
    const seconds = (performance.now() - started) / 1_000;
    created = target;
    // Every session must be connected, as Redis says, before the figure counts.
    const connectedNow = async () => (await stack.directory.list()).filter((entry) => entry.record.status === 'connected').length;
    await waitFor(`${target} sessions connected in Redis`, async () => ((await connectedNow()) >= target ? true : undefined), 60_000, 200);
    await sleep(settleMs);
    const memory = memoryOf(stack.host.pid);
    const redisNow = await redisMemory();
    const perSessionPss = (memory.pss - baseline.pss) / target;
    perStep.push({ sessions: target, memory, perSessionPss, seconds });
    rows.push([
      target.toLocaleString('en-US'),
      megabytes(memory.rss),
      megabytes(memory.pss),
      `${((memory.rss - baseline.rss) / target / 1024).toFixed(1)} KB`,
      `${(perSessionPss / 1024).toFixed(1)} KB`,
      `${((redisNow - redisBaseline) / target / 1024).toFixed(1)} KB`,
      `${ms(seconds * 1_000, 0)} ms (${Math.round((target - (perStep.at(-2)?.sessions ?? 0)) / seconds)} sessions/s)`,
    ]);
  }
  const simulatedTable: Table = {
    title: 'Simulated sessions in one session host (host process memory, all sessions connected)',
    columns: ['sessions', 'host RSS', 'host PSS', 'RSS per session', 'PSS per session', 'Redis per session', 'time to create + scan the step'],
    rows,
  };

  const webjs = await measureWebjsMemory(context, { counts: context.smoke ? [1] : [1, 5], settleMs: context.smoke ? 1_000 : 5_000 });
  const webjsTable: Table = {
    title: 'webjs sessions (whatsapp-web.js + Chromium, logged in to the WhatsApp Web stand-in): PSS of the Chromium process trees',
    columns: ['flags', 'sessions', 'processes', 'PSS total', 'PSS per session', 'RSS per session (summed, for comparison)', 'launch → ready'],
    rows:
      'skipped' in webjs
        ? [['skipped', '—', '—', '—', '—', '—', webjs.skipped]]
        : webjs.measurements.map((measurement) => [
            measurement.flags === 'default' ? 'Chromium default (--headless --no-sandbox)' : 'ours (engine: puppeteer defaults + chromiumArgs)',
            String(measurement.sessions),
            String(measurement.processes),
            megabytes(measurement.total.pss),
            megabytes(measurement.perSession.pss),
            megabytes(measurement.perSession.rss),
            `${ms(measurement.readyMs, 0)} ms`,
          ]),
  };

  const top = perStep.at(-1);
  const first = perStep[0];
  const targets: TargetCheck[] = [];
  targets.push({
    target: '10,000 simulated sessions in one host under 1 GB',
    measured:
      top === undefined
        ? 'n/a'
        : `${top.sessions.toLocaleString('en-US')} sessions: host RSS ${megabytes(top.memory.rss)}, PSS ${megabytes(top.memory.pss)}; ` +
          `${first === undefined ? '' : `${(first.perSessionPss / 1024).toFixed(1)} KB per session at ${first.sessions.toLocaleString('en-US')}, `}` +
          `${(top.perSessionPss / 1024).toFixed(1)} KB at ${top.sessions.toLocaleString('en-US')}`,
    met: context.smoke || top === undefined ? null : top.memory.rss < 1024 ** 3,
    limit:
      'A simulated session is a few small objects (its record, chats, timers, a child logger); the host\'s fixed cost ' +
      '(Node, tsx, ioredis, zod, pino) is the idle row. Each session also keeps its record, lease and event stream in Redis.',
  });
  if ('skipped' in webjs) {
    targets.push({ target: 'webjs: ours at most half of the default PSS per session', measured: `skipped: ${webjs.skipped}`, met: null, limit: '—' });
  } else {
    const perSession = (flags: 'default' | 'ours', sessions: number) =>
      webjs.measurements.find((measurement) => measurement.flags === flags && measurement.sessions === sessions)?.perSession.pss ?? Number.NaN;
    const counts = [...new Set(webjs.measurements.map((measurement) => measurement.sessions))];
    const ratios = counts.map((count) => ({ count, ratio: perSession('ours', count) / perSession('default', count) }));
    targets.push({
      target: 'webjs: ours at most half of the default PSS per session',
      measured: ratios
        .map(({ count, ratio }) => `${count} session(s): ours ${megabytes(perSession('ours', count))} vs default ${megabytes(perSession('default', count))} (${(ratio * 100).toFixed(0)}%)`)
        .join('; '),
      met: context.smoke ? null : ratios.every(({ ratio }) => ratio <= 0.5),
      limit:
        'Most of a session is WhatsApp Web itself in its renderer (here the stand-in page, far smaller than the real ' +
        'WhatsApp Web, whose JS heap runs to hundreds of MB): flags trim the browser and GPU/utility processes around it, ' +
        'so the ratio against the real page will differ. One browser per session (LocalAuth profile) is the floor of this design.',
    });
  }
  return {
    part: 'sessions',
    title: 'Sessions per host',
    method: [
      'Simulated sessions: a session host of its own (simulator, QR rotation set to an hour so no timer fires while ' +
        'measuring), N sessions created and scanned with `create` commands and the simulator\'s `scan` control pushed onto its inbox by ' +
        'CommandBus.request (32 in flight), then after a pause the host process\'s RSS and PSS from /proc/<pid>/smaps_rollup; ' +
        'per session = (after − idle) / N. The host runs with `node --import tsx`, as `npm start` runs it. Redis ' +
        'memory per session from INFO memory (used_memory).',
      'webjs sessions: whatsapp-web.js clients built as the engine builds them, Chromium from Debian, WhatsApp Web ' +
        'replaced by the stand-in of the engine tests (served through the library\'s local web cache), each logged in by the ' +
        'stand-in\'s scan and measured after `ready` and a pause. PSS (not summed RSS) over every process of each ' +
        'browser\'s tree, from /proc/<pid>/smaps_rollup. "Default": `--headless --no-sandbox` only (puppeteer\'s own ' +
        'default flags dropped); "ours": the engine\'s flags (chromiumArgs() on top of puppeteer\'s defaults).',
    ],
    tables: [simulatedTable, webjsTable],
    targets,
    notes: [],
  };
});
