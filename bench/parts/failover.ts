/**
 * Part 4 of the benchmarks: failover. Simulated sessions on one host; the host is stopped (SIGTERM) or killed
 * (SIGKILL) while another host runs; the time from the signal until every one of its sessions is `connected` again
 * on the survivor (its record rewritten after the signal, by the new owner). Production heartbeat settings
 * (HOST_HEARTBEAT_MS 2 s, HOST_TTL_MS 6 s), not the tests' shorter ones.
 */
import { waitFor } from '../../scripts/support/processes.js';
import { startBenchStack } from '../support/bench-stack.js';
import { runPart, type PartReport, type TargetCheck } from '../support/report.js';
import { ms } from '../support/stats.js';

const heartbeatMs = 2_000;
const hostTtlMs = 6_000;

runPart(async (context): Promise<PartReport> => {
  const sessions = context.smoke ? 4 : 20;
  const timing = { HOST_HEARTBEAT_MS: String(heartbeatMs), HOST_TTL_MS: String(hostTtlMs) };
  const stack = await startBenchStack(context, { offline: false, hostEnv: timing });
  const rows: string[][] = [];
  const measured: Record<string, number> = {};

  for (const [round, signal] of [
    [1, 'SIGTERM'],
    [2, 'SIGKILL'],
  ] as const) {
    const victimId = `victim-${round}`;
    const victim = await stack.startHost(victimId);
    const ids = Array.from({ length: sessions }, (_, index) => `fo${round}-${index}`);
    context.log(`failover ${signal}: ${sessions} sessions on ${victimId}`);
    for (const [index, sessionId] of ids.entries()) {
      await stack.createConnected(sessionId, `1555${round}${String(index).padStart(6, '0')}`, victimId);
    }
    // Only the victim's sessions at the moment of the signal count (rebalancing may have moved some already).
    const onVictim: string[] = [];
    for (const sessionId of ids) if ((await stack.directory.get(sessionId))?.ownerHostId === victimId) onVictim.push(sessionId);
    const signalledAt = Date.now();
    if (signal === 'SIGTERM') await victim.stop(30_000);
    else await victim.kill();
    await waitFor(
      `${victimId}'s sessions connected elsewhere`,
      async () => {
        for (const sessionId of onVictim) {
          const entry = await stack.directory.get(sessionId);
          if (entry === null || entry.ownerHostId === null || entry.ownerHostId === victimId) return undefined;
          if (entry.record.status !== 'connected' || Date.parse(entry.record.updatedAt) < signalledAt) return undefined;
        }
        return true;
      },
      60_000,
      20,
    );
    const elapsed = Date.now() - signalledAt;
    measured[signal] = elapsed;
    rows.push([signal, String(onVictim.length), `${ms(elapsed, 0)} ms`]);
  }

  const sigterm = measured.SIGTERM ?? Number.NaN;
  const sigkill = measured.SIGKILL ?? Number.NaN;
  const targets: TargetCheck[] = [
    {
      target: 'Failover after SIGTERM under 3 s',
      measured: `${ms(sigterm, 0)} ms for ${sessions} sessions`,
      met: context.smoke ? null : sigterm < 3_000,
      limit: 'The stopping host closes its clients and withdraws its heartbeat, and says so on a channel; a survivor sweeps at once and starts each adopted client.',
    },
    {
      target: `Failover after kill -9 under HOST_TTL_MS + 2 s (${hostTtlMs + 2_000} ms)`,
      measured: `${ms(sigkill, 0)} ms for ${sessions} sessions`,
      met: context.smoke ? null : sigkill < hostTtlMs + 2_000,
      limit: 'Nobody can tell a dead host from a slow one before its heartbeat key expires (HOST_TTL_MS); survivors look at the live hosts twice a heartbeat.',
    },
  ];
  return {
    part: 'failover',
    title: 'Failover',
    method: [
      `Two session hosts (simulator) on one Redis and one data folder, HOST_HEARTBEAT_MS ${heartbeatMs}, HOST_TTL_MS ${hostTtlMs}. ` +
        `${sessions} sessions created and scanned on the victim host; then the victim is stopped with SIGTERM (round 1) or ` +
        'SIGKILL (round 2). Time from the signal until every session the victim owned at that moment is owned by the ' +
        'survivor and `connected` in a record written after the signal (polled every 20 ms).',
    ],
    tables: [{ title: 'Time until the sessions of a stopped host are connected on another', columns: ['signal', 'sessions', 'time'], rows }],
    targets,
    notes: [],
  };
});
