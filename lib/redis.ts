/**
 * Redis connections. Both deployables use ioredis; each caller says whether a command may wait in the offline queue
 * (the session host: yes, it outlives an outage) or must fail at once (the functions: answer 503 quickly).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { ServiceError } from '../contract/errors.js';

export type { Redis };

export interface RedisConnectionOptions {
  /** Shown in CLIENT LIST; helps to tell connections apart. */
  name: string;
  /** false: a command issued while disconnected fails at once instead of waiting for the reconnection. */
  queueWhileOffline: boolean;
  connectTimeoutMs?: number;
  /** A command unanswered this long fails (a Redis that hangs must not hang a request). Never with BRPOP. */
  commandTimeoutMs?: number;
  /**
   * Send the commands issued in one tick in one write (ioredis auto-pipelining): fewer syscalls under load. Not for
   * a connection that blocks (BRPOP) or subscribes.
   */
  autoPipelining?: boolean;
}

/**
 * Redis refused this client's credentials (NOAUTH: none given where Redis asks for them; WRONGPASS: wrong user or
 * password; NOPERM: the ACL user may not run what we need). Retrying does not help: REDIS_URL must change.
 */
export class RedisAuthError extends Error {
  override readonly name = 'RedisAuthError';
  constructor(readonly reply: string) {
    super(
      `Redis refused this service's credentials (${reply.split(' ')[0]}): put the ACL user and password in REDIS_URL ` +
        '(rediss://user:password@host:port, or redis://:password@host:port for requirepass).',
    );
  }
}

export function isRedisAuthError(error: unknown): boolean {
  return error instanceof Error && /^(?:NOAUTH|WRONGPASS|NOPERM)\b/.test(error.message);
}

/** A Redis URL fit for a log line: no user, no password. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//');
}

let authProblemReported = false;

/**
 * A Redis client for `url`: `redis://host:port`, `rediss://host:port` (TLS), with `user:password@` (an ACL user) or
 * `:password@` (requirepass); ioredis reads all of these from the URL. The credentials never reach a log line: a
 * refusal of them is said once on stderr, naming Redis and REDIS_URL without its secrets.
 */
export function createRedis(url: string, options: RedisConnectionOptions): Redis {
  const redisOptions: RedisOptions = {
    connectionName: options.name,
    lazyConnect: true,
    enableOfflineQueue: options.queueWhileOffline,
    connectTimeout: options.connectTimeoutMs ?? 2_000,
    maxRetriesPerRequest: options.queueWhileOffline ? null : 1,
    ...(options.commandTimeoutMs === undefined ? {} : { commandTimeout: options.commandTimeoutMs }),
    enableAutoPipelining: options.autoPipelining ?? false,
    // Reconnect for ever, quickly at first, at most every 2 s.
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000),
  };
  const redis = new Redis(url, redisOptions);
  redis.on('error', (error: unknown) => {
    if (!isRedisAuthError(error) || authProblemReported) return;
    authProblemReported = true;
    const reply = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${new RedisAuthError(reply).message} Redis: ${redactRedisUrl(url)}\n`);
  });
  return redis;
}

/**
 * Resolves once `redis` is ready, or throws SERVICE_UNAVAILABLE after `timeoutMs`. Starts the connection of a
 * lazy client. Every wait has a deadline: a caller never hangs on a Redis that is away.
 */
export async function whenRedisReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  if (redis.status === 'wait') redis.connect().catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    const onReady = () => {
      cleanup();
      resolve();
    };
    // Wrong or missing credentials: say so at once instead of waiting for a Redis that will never let us in.
    const onError = (error: unknown) => {
      if (!isRedisAuthError(error)) return;
      cleanup();
      reject(new RedisAuthError(error instanceof Error ? error.message : String(error)));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new ServiceError('SERVICE_UNAVAILABLE', 'Redis is not reachable right now.'));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
    };
    redis.on('ready', onReady);
    redis.on('error', onError);
  });
}

/**
 * Whether an error thrown by ioredis means Redis itself cannot serve right now (away, out of memory, loading, a
 * read-only replica), as opposed to a bad command: the caller answers 503 and the client retries.
 */
export function isRedisUnavailableError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    error instanceof RedisAuthError ||
    /^(?:OOM|LOADING|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOAUTH|WRONGPASS|NOPERM) /.test(error.message) ||
    /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Command timed out/.test(
      error.message,
    )
  );
}
