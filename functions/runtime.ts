/**
 * What a function instance keeps between invocations: configuration, Redis connections, the command bus. Built
 * on first use (the cold start) and reused while the instance is warm.
 */
import { redisKeys, type RedisKeys } from '../contract/redis-keys.js';
import { CommandBus } from '../lib/command-bus.js';
import { createConnectionPoster, type ConnectionPoster } from '../lib/connection-poster.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { createRedis, whenRedisReady, type Redis } from '../lib/redis.js';
import { SessionDirectory } from '../lib/session-directory.js';
import { ConnectionRegistry } from '../lib/ws-connections.js';
import { readFunctionsConfig, type FunctionsConfig } from './config.js';
import type { ApiDependencies } from './http/dependencies.js';
import { RedisIdempotencyStore } from './http/idempotency.js';
import { RedisSendRateLimiter } from './http/rate-limit.js';

export interface FunctionsRuntime {
  config: FunctionsConfig;
  logger: Logger;
  keys: RedisKeys;
  redis: Redis;
  bus: CommandBus;
  directory: SessionDirectory;
  connections: ConnectionRegistry;
  poster: ConnectionPoster;
  api: ApiDependencies;
  /** Resolves when Redis is usable, or throws SERVICE_UNAVAILABLE within a second. */
  ready(): Promise<void>;
}

/** How long a request waits for a Redis that is reconnecting before it answers 503. */
const redisWaitMs = 1_000;
/** A cold start's first connection may take longer on a busy machine: give it this long before answering 503. */
const firstConnectionWaitMs = 3_000;

let runtime: FunctionsRuntime | undefined;

export function getRuntime(): FunctionsRuntime {
  runtime ??= buildRuntime();
  return runtime;
}

function buildRuntime(): FunctionsRuntime {
  const config = readFunctionsConfig();
  const logger = createLogger('functions');
  if (config.apiKeyDigests.length === 0) logger.error('API_KEYS is empty: every request except health is refused');
  const keys = redisKeys(config.keyPrefix);
  const connect = (name: string) => {
    const redis = createRedis(config.redisUrl, {
      name: `fn:${name}`,
      queueWhileOffline: false,
      commandTimeoutMs: 2_000,
      autoPipelining: true,
    });
    redis.on('error', (error: Error) => logger.debug({ err: error, connection: name }, 'redis connection error'));
    return redis;
  };
  const redis = connect('main');
  // A subscribed connection runs no other command, and must not time out while it waits for replies.
  const subscriber = createRedis(config.redisUrl, { name: 'fn:replies', queueWhileOffline: false });
  subscriber.on('error', (error: Error) => logger.debug({ err: error, connection: 'replies' }, 'redis connection error'));
  const bus = new CommandBus({ redis, subscriber, keys, logger, redisWaitMs: firstConnectionWaitMs });
  let connectedOnce = false;
  redis.once('ready', () => {
    connectedOnce = true;
  });
  const ready = () => whenRedisReady(redis, connectedOnce ? redisWaitMs : firstConnectionWaitMs);
  const directory = new SessionDirectory(redis, keys);
  const api: ApiDependencies = {
    config,
    logger,
    ready,
    ping: async () => {
      try {
        await ready();
        return (await redis.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    directory,
    bus,
    idempotency: new RedisIdempotencyStore(redis, keys, config.idempotencyTtlSeconds),
    sendRateLimiter: new RedisSendRateLimiter(redis, keys, config.sendRateLimit),
  };
  return {
    config,
    logger,
    keys,
    redis,
    bus,
    directory,
    connections: new ConnectionRegistry(redis, keys),
    poster: createConnectionPoster(config.wsManagementEndpoint),
    api,
    ready: api.ready,
  };
}
