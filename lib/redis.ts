/**
 * Redis connections. Both deployables use ioredis; each caller says whether a command may wait in the offline queue
 * (the session host: yes, it outlives an outage) or must fail at once (the functions: answer 503 quickly).
 */
import { Cluster, type ClusterOptions, Redis as SingleRedis, type RedisOptions } from 'ioredis';
import { ServiceError } from '../contract/errors.js';

/**
 * A connection to the service's Redis: one server (ioredis `Redis`) or a Redis Cluster (ioredis `Cluster`, chosen by
 * `?cluster=true` on REDIS_URL). Both run the same commands; what differs is that a Cluster refuses a multi-key
 * command, script or MULTI whose keys are in several hash slots (docs/architecture.md, "Redis Cluster").
 */
export type RedisClient = SingleRedis | Cluster;
/** The name the rest of the code imports: either client. */
export type Redis = RedisClient;

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

/** Whether REDIS_URL asks for Redis Cluster: `?cluster=true` (or `1`, `yes`). */
export function isClusterUrl(url: string): boolean {
  try {
    return /^(?:true|1|yes)$/i.test(new URL(url).searchParams.get('cluster') ?? '');
  } catch {
    return false;
  }
}

/**
 * A Redis Cluster client from a URL with `?cluster=true`: its host and port are the seed node (ElastiCache's
 * configuration endpoint; the client finds the other nodes with CLUSTER SLOTS), `&nodes=host:port,host:port` adds
 * seeds; the user, password and TLS (`rediss:`) apply to every node.
 */
function createCluster(url: string, redisOptions: RedisOptions, options: RedisConnectionOptions): Cluster {
  const parsed = new URL(url);
  const seeds = [`${parsed.hostname}:${parsed.port || '6379'}`, ...(parsed.searchParams.get('nodes') ?? '').split(',')]
    .map((node) => node.trim())
    .filter((node) => node !== '')
    .map((node) => {
      const at = node.lastIndexOf(':');
      return at < 0 ? { host: node, port: 6379 } : { host: node.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(node.slice(at + 1)) };
    });
  const tls = parsed.protocol === 'rediss:';
  const nodeOptions: RedisOptions = {
    ...redisOptions,
    ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
    ...(tls ? { tls: {} } : {}),
  };
  // Options the Cluster itself takes (the nodes' connections get nodeOptions).
  const { enableAutoPipelining, enableOfflineQueue, lazyConnect, retryStrategy, ...perNode } = nodeOptions;
  const clusterOptions: ClusterOptions = {
    redisOptions: perNode,
    lazyConnect: lazyConnect ?? true,
    enableOfflineQueue: enableOfflineQueue ?? true,
    enableAutoPipelining: enableAutoPipelining ?? false,
    clusterRetryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000),
    // A command whose slot moved (resharding, failover) follows the MOVED/ASK answers, a few times.
    maxRedirections: 16,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: options.connectTimeoutMs ?? 2_000,
    // TLS checks the certificate against the name we were given, not the address it resolves to (ElastiCache).
    ...(tls ? { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) } : {}),
  };
  return new Cluster(seeds, clusterOptions);
}

/**
 * A Redis client for `url`: `redis://host:port`, `rediss://host:port` (TLS), with `user:password@` (an ACL user) or
 * `:password@` (requirepass); ioredis reads all of these from the URL. With `?cluster=true` a Redis Cluster client
 * (see createCluster). The credentials never reach a log line: a refusal of them is said once on stderr, naming
 * Redis and REDIS_URL without its secrets.
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
  const redis: Redis = isClusterUrl(url) ? createCluster(url, redisOptions, options) : new SingleRedis(url, redisOptions);
  const reportAuthProblem = (error: unknown) => {
    if (!isRedisAuthError(error) || authProblemReported) return;
    authProblemReported = true;
    const reply = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${new RedisAuthError(reply).message} Redis: ${redactRedisUrl(url)}\n`);
  };
  redis.on('error', reportAuthProblem);
  // A Cluster tells a node's refusal as a `node error` (its own `error` is only "none of the nodes answers").
  if (redis.isCluster) redis.on('node error', reportAuthProblem);
  return redis;
}

/** One Redis command as its name and arguments, for runEach. */
export type RedisCommand = [name: string, ...args: Array<string | number>];

/**
 * Runs independent commands in one round trip and answers their replies in order (a failed one throws): a pipeline
 * on one server; on a Cluster, whose pipelines must stay on one node, each command on its own and all at once (a
 * Cluster client with auto-pipelining sends those of one node together). Never atomic: for several slots at once.
 */
export async function runEach(redis: Redis, commands: readonly RedisCommand[]): Promise<unknown[]> {
  if (commands.length === 0) return [];
  if (redis.isCluster) return Promise.all(commands.map(([name, ...args]) => redis.call(name, ...args)));
  const pipeline = redis.pipeline();
  for (const [name, ...args] of commands) pipeline.call(name, ...args);
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/** GET of many keys in one round trip: MGET on one server; on a Cluster (MGET needs one slot) GETs via runEach. */
export async function getMany(redis: Redis, keys: readonly string[]): Promise<Array<string | null>> {
  if (keys.length === 0) return [];
  if (!redis.isCluster) return redis.mget(...keys);
  const values = await runEach(redis, keys.map((key): RedisCommand => ['get', key]));
  return values.map((value) => (typeof value === 'string' ? value : null));
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
      redis.off('node error', onError);
    };
    redis.on('ready', onReady);
    redis.on('error', onError);
    // A Cluster's nodes refuse credentials one by one (`node error`).
    if (redis.isCluster) redis.on('node error', onError);
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
    ) ||
    // A Redis Cluster that is away, or whose slots are moving: none of its nodes answers, or not yet.
    error.name === 'ClusterAllFailedError' ||
    /Cluster isn't ready|None of startup nodes is available|Failed to refresh slots cache|Too many Cluster redirections/.test(error.message)
  );
}
