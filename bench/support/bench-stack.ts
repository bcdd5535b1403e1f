/**
 * The stack a benchmark part drives: its own redis-server, one session host (simulator) and, when asked, serverless
 * offline; plus a command bus of its own to create and scan simulated sessions without going through HTTP.
 * Everything is registered with the part, so it is stopped by PID on every path.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { redisKeys, type RedisKeys } from '../../contract/redis-keys.js';
import { simulatorControl } from '../../contract/simulator.js';
import { CommandBus } from '../../lib/command-bus.js';
import { createLogger } from '../../lib/logger.js';
import { createRedis, type Redis } from '../../lib/redis.js';
import { SessionDirectory } from '../../lib/session-directory.js';
import { projectRoot, temporaryDirectory, waitFor, type ManagedProcess } from '../../scripts/support/processes.js';
import { startRedisServer, type LocalRedis } from '../../scripts/support/redis-server.js';
import { startOffline, startSessionHost, type Offline } from '../../scripts/support/stack.js';
import type { PartContext } from './report.js';

export interface BenchStack {
  redis: LocalRedis;
  offline: Offline | undefined;
  host: ManagedProcess;
  hostId: string;
  keyPrefix: string;
  apiKey: string;
  keys: RedisKeys;
  /** A plain connection for reads (directory, registry) from the benchmark process. */
  client: Redis;
  bus: CommandBus;
  directory: SessionDirectory;
  /** Creates a simulated session on the host and scans it; resolves once Redis says `connected`. */
  createConnected(sessionId: string, phone: string, hostId?: string): Promise<void>;
  /** Starts another session host on the same Redis and data folder (as hosts sharing a volume). */
  startHost(hostId: string, env?: Record<string, string>): Promise<ManagedProcess>;
}

export const silentLogger = createLogger('bench', 'silent');

/** Env of the functions under test: logs above info only (their one line per request would be measured too). */
export const quietEnv = { LOG_LEVEL: 'warn' };

export async function startBenchStack(
  context: PartContext,
  options: { offline: boolean; hostEnv?: Record<string, string> },
): Promise<BenchStack> {
  const keyPrefix = `b${randomBytes(4).toString('hex')}`;
  const apiKey = `bench-${randomBytes(12).toString('hex')}`;
  const hostId = 'bench-host';
  const data = temporaryDirectory('wa-bench-data');
  context.onCleanup(() => data.remove());
  const dataDir = path.join(data.path, 'sessions');
  mkdirSync(dataDir, { recursive: true });

  const redis = await startRedisServer();
  context.onCleanup(() => redis.stop());
  let offline: Offline | undefined;
  if (options.offline) {
    context.log('starting serverless offline');
    offline = await startOffline({
      redisUrl: redis.url,
      keyPrefix,
      engine: 'simulator',
      apiKeys: apiKey,
      env: { ...quietEnv, SEND_RATE_LIMIT: '0', COMMAND_TIMEOUT_MS: '15000' },
    });
    context.track(offline.process);
  }
  const startHost = async (id: string, env: Record<string, string> = {}) =>
    context.track(
      await startSessionHost({
        redisUrl: redis.url,
        keyPrefix,
        engine: 'simulator',
        hostId: id,
        dataDir,
        wsManagementEndpoint: offline?.managementEndpoint ?? 'http://127.0.0.1:9',
        // The host logs at info (its "ready" line is what the start waits for); it logs no line per command.
        // BENCH_HOST_PROFILE_DIR: a V8 CPU profile of each host, written when it stops (what a row's host time is made of).
        env: {
          SIMULATOR_QR_ROTATE_MS: '3600000',
          SIMULATOR_AUTO_SCAN_MS: '0',
          ...(process.env.BENCH_HOST_PROFILE_DIR ? { NODE_OPTIONS: `--import=${path.join(projectRoot, 'bench', 'support', 'cpu-profile.mjs')}` } : {}),
          ...options.hostEnv,
          ...env,
        },
      }),
    );
  const host = await startHost(hostId);

  const keys = redisKeys(keyPrefix);
  const client = createRedis(redis.url, { name: 'bench:main', queueWhileOffline: true });
  const subscriber = createRedis(redis.url, { name: 'bench:replies', queueWhileOffline: true });
  for (const connection of [client, subscriber]) connection.on('error', () => undefined);
  const bus = new CommandBus({ redis: client, subscriber, keys, logger: silentLogger, redisWaitMs: 5_000 });
  context.onCleanup(async () => {
    await bus.close();
    client.disconnect();
    subscriber.disconnect();
  });
  const directory = new SessionDirectory(client, keys);

  const createConnected = async (sessionId: string, phone: string, on = hostId) => {
    await bus.request({ hostId: on, sessionId }, { type: 'create' }, 30_000);
    await bus.request({ hostId: on, sessionId }, simulatorControl('scan', { phone }), 30_000);
    await waitFor(
      `${sessionId} connected`,
      async () => ((await directory.get(sessionId))?.record.status === 'connected' ? true : undefined),
      30_000,
      20,
    );
  };
  return { redis, offline, host, hostId, keyPrefix, apiKey, keys, client, bus, directory, createConnected, startHost };
}

/** Runs `task` over `items` with at most `limit` in flight. */
export async function inParallel<T>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < items.length; index = next++) {
      const item = items[index];
      if (item !== undefined) await task(item, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
