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
import { WebhookStore } from '../lib/webhook-store.js';
import { ConnectionRegistry } from '../lib/ws-connections.js';
import {
  readApiKeyDigestsFromSsm,
  readFunctionsConfig,
  ssmParameterReader,
  type FunctionsConfig,
  type ParameterReader,
} from './config.js';
import type { ApiDependencies } from './http/dependencies.js';
import { RedisIdempotencyStore } from './http/idempotency.js';
import { RedisRequestLimiter, RedisSendRateLimiter } from './http/rate-limit.js';
import { ApiKeyStore, SessionTenants } from '../lib/api-keys.js';

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

/** How long keys read from SSM are used before a request starts re-reading them (in the background). */
export const apiKeysMaxAgeMs = 5 * 60_000;
/** After a failed re-read, the keys in hand stay in use and the next attempt waits this long. */
export const apiKeysRetryMs = 30_000;

/**
 * API keys held in an SSM SecureString (deployed stages). `digests` is the one array every key check reads: a
 * re-read replaces its contents in place, so a rotation reaches a warm instance within `apiKeysMaxAgeMs` of its
 * next request, without a redeploy. Only digests are kept; the keys never enter the environment.
 */
export class SsmApiKeys {
  readonly digests: Buffer[] = [];
  private freshUntil = 0;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly parameterName: string,
    private readonly readParameter: ParameterReader,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The first read, at cold start: a failure throws (the cold start fails, loudly, instead of refusing every key). */
  async load(): Promise<void> {
    this.replace(await readApiKeyDigestsFromSsm(this.parameterName, this.readParameter));
  }

  /** Starts a background re-read when the keys are older than their maximum age; never waits, never throws. */
  refreshIfStale(): Promise<void> | undefined {
    if (this.refreshing !== undefined || this.now() < this.freshUntil) return this.refreshing;
    this.refreshing = readApiKeyDigestsFromSsm(this.parameterName, this.readParameter)
      .then(
        (digests) => this.replace(digests),
        (error: unknown) => {
          this.freshUntil = this.now() + apiKeysRetryMs;
          this.logger.warn({ err: error, parameter: this.parameterName }, 'could not re-read the API keys; keeping the ones in hand');
        },
      )
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private replace(digests: Buffer[]): void {
    this.digests.splice(0, this.digests.length, ...digests);
    this.freshUntil = this.now() + apiKeysMaxAgeMs;
    if (digests.length === 0) this.logger.error({ parameter: this.parameterName }, 'the API keys parameter holds no key: every request except health is refused');
  }
}

interface ColdStart {
  config: FunctionsConfig;
  logger: Logger;
  ssmKeys: SsmApiKeys | undefined;
}

async function coldStart(): Promise<ColdStart> {
  const config = readFunctionsConfig();
  const logger = createLogger('functions');
  if (config.apiKeysParameter === undefined) return { config, logger, ssmKeys: undefined };
  const ssmKeys = new SsmApiKeys(config.apiKeysParameter, await ssmParameterReader(), logger);
  try {
    await ssmKeys.load();
  } catch (error) {
    logger.fatal({ err: error, parameter: config.apiKeysParameter }, 'could not read the API keys from SSM');
    throw error;
  }
  config.apiKeyDigests = ssmKeys.digests;
  return { config, logger, ssmKeys };
}

// Read once per instance, before any handler runs: a top-level await, which Lambda runs in its init phase. The API
// keys of a deployed stage are fetched here from SSM (a GetParameter with decryption, ~tens of ms), then cached.
const started = await coldStart();

let runtime: FunctionsRuntime | undefined;

export function getRuntime(): FunctionsRuntime {
  runtime ??= buildRuntime(started);
  started.ssmKeys?.refreshIfStale();
  return runtime;
}

function buildRuntime({ config, logger, ssmKeys }: ColdStart): FunctionsRuntime {
  if (config.apiKeyDigests.length === 0 && ssmKeys === undefined) {
    logger.error('API_KEYS is empty: every request except health is refused');
  }
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
  const ready = () => {
    // The REST API reaches the runtime once per instance: its requests start the keys' re-read from here.
    ssmKeys?.refreshIfStale();
    return whenRedisReady(redis, connectedOnce ? redisWaitMs : firstConnectionWaitMs);
  };
  const directory = new SessionDirectory(redis, keys);
  const connections = new ConnectionRegistry(redis, keys, { maxSubscriptions: config.limits.subscriptionsPerConnection });
  const api: ApiDependencies = {
    config,
    logger,
    ready,
    ping: async () => {
      ssmKeys?.refreshIfStale();
      try {
        await ready();
        return (await redis.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    directory,
    bus,
    idempotency: new RedisIdempotencyStore(redis, keys, config.idempotencyTtlSeconds, config.limits.idempotencyRecordsPerKey),
    sendRateLimiter: new RedisSendRateLimiter(redis, keys, config.sendRateLimit),
    // Scoped keys and their caps (issue 15, docs/api.md "Keys and tenants" and "Limits").
    apiKeys: new ApiKeyStore(redis, keys, { maxKeys: config.limits.apiKeys }),
    tenants: new SessionTenants(redis, keys),
    requestLimiter: new RedisRequestLimiter(redis, keys, config.limits),
    connections,
    webhooks: new WebhookStore(redis, keys, { allowPrivate: config.webhookAllowPrivate }),
  };
  return {
    config,
    logger,
    keys,
    redis,
    bus,
    directory,
    connections,
    poster: createConnectionPoster(config.wsManagementEndpoint),
    api,
    ready: api.ready,
  };
}
