/**
 * The session host: a long-running process that owns WhatsApp clients. It takes commands from its Redis inbox,
 * keeps session state in Redis, appends events to the per-session logs and pushes them to WebSocket clients.
 * This file only wires the parts together and runs the start and the graceful shutdown.
 */
import type { Server } from 'node:http';
import { redisKeys } from '../contract/redis-keys.js';
import { CommandBus } from '../lib/command-bus.js';
import { createConnectionPoster } from '../lib/connection-poster.js';
import { ConfigError } from '../lib/env.js';
import { createLogger } from '../lib/logger.js';
import { createRedis, redactRedisUrl, RedisAuthError, whenRedisReady, type Redis } from '../lib/redis.js';
import { SessionDirectory } from '../lib/session-directory.js';
import { ConnectionRegistry } from '../lib/ws-connections.js';
import { createCommandHandler } from './command-handlers.js';
import { CommandWorker } from './command-worker.js';
import { readSessionHostConfig, type SessionHostConfig } from './config.js';
import { createEngine } from './engines/create-engine.js';
import { EventLog } from './events/event-log.js';
import { EventPusher } from './events/event-pusher.js';
import { startHealthServer } from './health-server.js';
import { createHostMetrics, withCommandMetrics } from './metrics.js';
import { acquireHostLease, HostIdInUseError, HostRegistry } from './host-registry.js';
import { SessionManager } from './sessions/session-manager.js';
import { SendLedger } from './sessions/send-ledger.js';
import { SessionStore } from './sessions/session-store.js';
import { WebhookDispatcher } from './webhooks/webhook-dispatcher.js';
import { WebhookStore } from '../lib/webhook-store.js';
import { blobStoreFromEnv } from '../lib/blob-store-config.js';

const logger = createLogger('session-host');

async function main(): Promise<void> {
  let config: SessionHostConfig;
  try {
    config = readSessionHostConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`session-host: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const hostLogger = logger.child({ hostId: config.hostId, engine: config.engine });

  // whatsapp-web.js can reject promises nobody awaits (a TargetCloseError during destroy, say): log them, and keep
  // every other session of this host alive.
  process.on('unhandledRejection', (reason) => hostLogger.error({ err: reason }, 'unhandled rejection (kept running)'));

  const keys = redisKeys(config.keyPrefix);
  const connections: Redis[] = [];
  const connect = (name: string, autoPipelining: boolean) => {
    const redis = createRedis(config.redisUrl, { name: `${config.hostId}:${name}`, queueWhileOffline: true, autoPipelining });
    redis.on('error', (error: Error) => hostLogger.debug({ err: error, connection: name }, 'redis connection error'));
    connections.push(redis);
    return redis;
  };
  const redis = connect('main', true);
  const blockingRedis = connect('inbox', false);
  const subscriber = connect('replies', false);

  // Which Redis, without its credentials: the first thing an operator needs when it does not answer.
  const redisTarget = { redis: config.redisUrl.replace(/\/\/[^/@]*@/, '//') };
  hostLogger.info(redisTarget, 'waiting for Redis');
  for (;;) {
    try {
      await whenRedisReady(redis, 5_000);
      break;
    } catch (error) {
      // Wrong or missing credentials (WRONGPASS, NOAUTH): waiting cannot help; say so and stop (exit 4).
      if (error instanceof RedisAuthError) {
        hostLogger.fatal({ ...redisTarget, reason: error.reply.split(' ')[0] }, 'Redis refused our credentials (REDIS_URL); stopping');
        process.stderr.write(`session-host: ${error.message} Redis: ${redactRedisUrl(config.redisUrl)}. Stopping.\n`);
        for (const connection of connections) connection.disconnect();
        process.exit(4);
      }
      hostLogger.warn(redisTarget, 'Redis is not reachable yet; still trying');
    }
  }

  // One process per HOST_ID, before anything runs under it: a second one is refused, a restart after a kill -9 waits
  // for the lease of its dead self to lapse (at most HOST_TTL_MS).
  let leaseToken: string;
  try {
    leaseToken = await acquireHostLease({ redis, keys, hostId: config.hostId, hostTtlMs: config.hostTtlMs, heartbeatMs: config.heartbeatMs, logger: hostLogger });
  } catch (error) {
    if (error instanceof HostIdInUseError) {
      hostLogger.fatal({ hostId: config.hostId, remainingMs: error.remainingMs }, error.message);
      process.stderr.write(`session-host: ${error.message}\n`);
      process.exit(3);
    }
    throw error;
  }

  const bus = new CommandBus({ redis, subscriber, keys, logger: hostLogger, callerId: `host-${config.hostId}` });
  const directory = new SessionDirectory(redis, keys);
  const blobs = blobStoreFromEnv();
  const engine = await createEngine(config, { redis, keys, directory, bus, logger: hostLogger, blobs });
  // Prometheus metrics (GET /metrics on HEALTH_PORT): the counting parts get the small HostMetrics interface.
  const hostMetrics = createHostMetrics({
    hostId: config.hostId,
    engine: config.engine,
    // Read at scrape time only, once the session manager below exists.
    sessionsWithStatus: (statuses) => sessions.idsWithStatus(statuses),
    ...(config.engine === 'webjs' ? { dataDir: config.dataDir } : {}),
  });
  const metrics = hostMetrics.metrics;
  const events = new EventLog(redis, keys, { ...config.events, metrics });
  const store = new SessionStore(redis, keys, config.hostId);
  const sendLedger = new SendLedger(redis, keys, config.idempotencyTtlSeconds);
  const sessions = new SessionManager({ engine, store, events, sendLedger, blobs, logger: hostLogger, qrMaxRotations: config.qrMaxRotations, maxSessions: config.maxSessions });
  // The local blob store has no lifecycle rule: expired media is swept here (S3's rule does it in a deployment).
  const mediaSweep = setInterval(() => {
    blobs.sweepExpired().catch((error: unknown) => hostLogger.warn({ err: error }, 'could not sweep expired media'));
  }, 10 * 60_000);
  mediaSweep.unref();
  const poster = createConnectionPoster(config.wsManagementEndpoint);
  const pusher = new EventPusher({ events, connections: new ConnectionRegistry(redis, keys), poster, logger: hostLogger, metrics });
  pusher.start();
  // Webhooks: a listener of the event log beside the pusher's, with queues of its own (never in the pusher's way).
  const webhooks = new WebhookDispatcher({
    store: new WebhookStore(redis, keys, { allowPrivate: config.webhooks.allowPrivate }),
    events,
    redis,
    keys,
    hostId: config.hostId,
    owns: (sessionId) => sessions.has(sessionId),
    logger: hostLogger,
    subscriber: connect('webhooks', false),
    metrics,
    ...config.webhooks,
  });
  await webhooks.start();
  const worker = new CommandWorker({
    blockingRedis,
    redis,
    keys,
    hostId: config.hostId,
    handler: withCommandMetrics(createCommandHandler(sessions, pusher), metrics),
    logger: hostLogger,
    concurrency: config.commandConcurrency,
  });
  let stopping = false;
  let health: Server | undefined;
  const registry = new HostRegistry({
    redis,
    keys,
    hostId: config.hostId,
    engine: config.engine,
    heartbeatMs: config.heartbeatMs,
    hostTtlMs: config.hostTtlMs,
    sessions,
    logger: hostLogger,
    leaseToken,
    // Every command slot stuck: take no heartbeat, so that the other hosts adopt this one's sessions.
    problem: () => worker.problem(),
    subscriber: connect('host-changes', false),
    directory,
    isBusy: (sessionId) => worker.busy(sessionId),
    onLeaseLost: () => void shutdown('lease lost', { leaseLost: true }),
  });

  // Adopt this host's sessions (and any orphans) before taking commands, so that none is answered SESSION_NOT_FOUND
  // only because it has not come back yet.
  await registry.start();
  worker.start();
  health =
    config.health.port === 0
      ? undefined
      : await startHealthServer(config.health.port, config.health.host, {
          problem: () => {
            if (registry.leaseLost) return `another process holds the lease on HOST_ID ${config.hostId}`;
            const stuck = worker.problem();
            if (stuck !== null) return stuck;
            if (redis.status !== 'ready') return `redis is ${redis.status}`;
            if (Date.now() - registry.lastHeartbeatAt > config.hostTtlMs) return 'heartbeat is stale';
            return null;
          },
          details: () => ({ hostId: config.hostId, engine: config.engine, sessions: sessions.size, commands: worker.stuck() }),
        }, hostMetrics);
  hostLogger.info({ sessions: sessions.size, dataDir: config.dataDir }, 'session host ready');

  async function shutdown(signal: string, options: { leaseLost?: boolean } = {}): Promise<void> {
    if (stopping) return;
    stopping = true;
    hostLogger.info({ signal }, 'shutting down');
    const exitCode = options.leaseLost === true ? 1 : 0;
    const forced = setTimeout(() => {
      hostLogger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    forced.unref();
    // Order matters: stop taking commands and finish those in flight, then close every client (their last state
    // reaches Redis), withdraw from the hosts so others may adopt at once, deliver what is queued, disconnect.
    health?.close();
    clearInterval(mediaSweep);
    registry.stopSweeping();
    if (options.leaseLost === true) {
      // Another process runs under this HOST_ID now: stop the clients at once rather than run them twice.
      await Promise.all([worker.stop(config.shutdownTimeoutMs / 2), sessions.stopAll()]);
    } else {
      await worker.stop(config.shutdownTimeoutMs / 2);
      await sessions.stopAll();
    }
    await registry.stop().catch((error: unknown) => hostLogger.warn({ err: error }, 'could not withdraw the host'));
    await Promise.all([pusher.stop(2_000), webhooks.stop(2_000)]);
    await engine.close();
    await bus.close();
    poster.close();
    await Promise.all(connections.map((connection) => connection.quit().catch(() => connection.disconnect())));
    clearTimeout(forced);
    hostLogger.info('stopped');
    process.exit(exitCode);
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  logger.fatal({ err: error }, 'session host failed to start');
  process.exit(1);
});
