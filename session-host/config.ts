/** The session host's configuration, read once at start; a bad value stops the start with a clear message. */
import { hostname } from 'node:os';
import path from 'node:path';
import { engineNames, type EngineName } from '../contract/api.js';
import { EnvReader } from '../lib/env.js';

export interface SessionHostConfig {
  redisUrl: string;
  keyPrefix: string;
  engine: EngineName;
  hostId: string;
  dataDir: string;
  heartbeatMs: number;
  /** A host whose heartbeat is older than this is dead, and its sessions are adopted by live hosts. */
  hostTtlMs: number;
  commandConcurrency: number;
  shutdownTimeoutMs: number;
  idempotencyTtlSeconds: number;
  /** QR rotations nobody scans before a session gives up (`failed`, QR_TIMEOUT); a restart starts again. */
  qrMaxRotations: number;
  /**
   * The most sessions this host runs (MAX_SESSIONS_PER_HOST): placement skips a full host, and it adopts no more.
   * Default 50 on `webjs` (each is a Chromium of some 300 MB), 20,000 on the simulator.
   */
  maxSessions: number;
  /** The event log's caps: entries, age, and bytes of events' JSON per session (EVENT_LOG_MAX_BYTES, default 16 MiB). */
  events: { maxLength: number; retentionMs: number; maxBytes: number };
  wsManagementEndpoint: string;
  /**
   * The health endpoint (GET /health); 0 = none. HEALTH_HOST: where it listens. Its details (host id, engine,
   * sessions, the problem) only with HEALTH_DETAILS=true (a private port) or the header `x-health-token: HEALTH_TOKEN`.
   */
  health: HealthAccess & { port: number; host: string };
  simulator: { autoScanMs: number; qrRotateMs: number; readAfterMs: number };
  /**
   * Webhook deliveries: how long one event is retried before it is `dead`, whether private and `http://` targets
   * are allowed (local stacks and tests only), one attempt's timeout, and posts in flight at once on this host.
   */
  webhooks: { retryForMs: number; allowPrivate: boolean; timeoutMs: number; concurrency: number };
  webjs: {
    chromePath: string | undefined;
    initTimeoutMs: number;
    /** A directory of WhatsApp Web builds (`<version>.html`) to serve instead of the network: tests use a stand-in. */
    webCacheDir: string | undefined;
    webVersion: string | undefined;
  };
}

export function readSessionHostConfig(env: Record<string, string | undefined> = process.env): SessionHostConfig {
  const read = new EnvReader(env);
  const config: SessionHostConfig = {
    redisUrl: read.url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    keyPrefix: read.pattern('KEY_PREFIX', 'wa', /^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "-" or "."'),
    engine: read.oneOf('WA_ENGINE', engineNames, 'webjs'),
    hostId: read.pattern('HOST_ID', hostname(), /^[A-Za-z0-9_.-]{1,128}$/, 'letters, digits, "_", "-" or "."'),
    dataDir: path.resolve(read.string('DATA_DIR', 'data/sessions')),
    heartbeatMs: read.integer('HOST_HEARTBEAT_MS', 2_000, { min: 100, max: 60_000 }),
    hostTtlMs: read.integer('HOST_TTL_MS', 6_000, { min: 300, max: 300_000 }),
    commandConcurrency: read.integer('COMMAND_CONCURRENCY', 64, { min: 1, max: 10_000 }),
    shutdownTimeoutMs: read.integer('SHUTDOWN_TIMEOUT_MS', 20_000, { min: 100, max: 600_000 }),
    idempotencyTtlSeconds: read.integer('IDEMPOTENCY_TTL_SECONDS', 24 * 3_600, { min: 60, max: 7 * 24 * 3_600 }),
    qrMaxRotations: read.integer('QR_MAX_ROTATIONS', 10, { min: 1, max: 10_000 }),
    maxSessions: read.integer('MAX_SESSIONS_PER_HOST', env.WA_ENGINE === 'simulator' ? 20_000 : 50, { min: 1, max: 1_000_000 }),
    events: {
      maxLength: read.integer('EVENT_LOG_MAX_LENGTH', 10_000, { min: 10, max: 10_000_000 }),
      retentionMs: read.integer('EVENT_LOG_RETENTION_MS', 24 * 3_600_000, { min: 1_000, max: 30 * 24 * 3_600_000 }),
      // The bytes (events' JSON) one session's log may hold: the oldest events go first (docs/api.md "Limits").
      maxBytes: read.integer('EVENT_LOG_MAX_BYTES', 16 * 1024 * 1024, { min: 64 * 1024, max: 1024 * 1024 * 1024 }),
    },
    wsManagementEndpoint: read.url('WS_MANAGEMENT_ENDPOINT', 'http://127.0.0.1:3001', ['http:', 'https:']),
    health: {
      port: read.integer('HEALTH_PORT', 0, { min: 0, max: 65_535 }),
      host: read.string('HEALTH_HOST', '127.0.0.1'),
      ...healthAccessOf(read),
    },
    simulator: {
      autoScanMs: read.integer('SIMULATOR_AUTO_SCAN_MS', 0, { min: 0, max: 3_600_000 }),
      qrRotateMs: read.integer('SIMULATOR_QR_ROTATE_MS', 20_000, { min: 100, max: 3_600_000 }),
      readAfterMs: read.integer('SIMULATOR_READ_AFTER_MS', 1_000, { min: 0, max: 3_600_000 }),
    },
    webhooks: {
      retryForMs: read.integer('WEBHOOK_RETRY_FOR_MS', 24 * 3_600_000, { min: 100, max: 7 * 24 * 3_600_000 }),
      allowPrivate: read.oneOf('WEBHOOK_ALLOW_PRIVATE', ['true', 'false'], 'false') === 'true',
      timeoutMs: read.integer('WEBHOOK_TIMEOUT_MS', 10_000, { min: 100, max: 10_000 }),
      concurrency: read.integer('WEBHOOK_CONCURRENCY', 64, { min: 1, max: 10_000 }),
    },
    webjs: {
      chromePath: read.optionalString('CHROME_PATH'),
      initTimeoutMs: read.integer('WEBJS_INIT_TIMEOUT_MS', 60_000, { min: 1_000, max: 600_000 }),
      webCacheDir: read.optionalString('WEBJS_WEB_CACHE_DIR'),
      webVersion: read.optionalString('WEBJS_WEB_VERSION'),
    },
  };
  if (config.hostTtlMs < config.heartbeatMs * 2) {
    read.problem(`HOST_TTL_MS (${config.hostTtlMs}) must be at least twice HOST_HEARTBEAT_MS (${config.heartbeatMs})`);
  }
  read.done();
  return config;
}

/** Who may read the health endpoint's details and the metrics (session-host/health-server.ts). */
export interface HealthAccess {
  /** Every caller gets the details: for a port only the operator's network reaches. */
  details: boolean;
  /** Callers that send `x-health-token: <token>` get the details (and /metrics, once a token is set). */
  token: string | undefined;
}

/** HEALTH_DETAILS (`true`/`false`, default false) and HEALTH_TOKEN (at least 16 characters), read by `reader`. */
export function healthAccessOf(reader: EnvReader = new EnvReader()): HealthAccess {
  const details = reader.oneOf('HEALTH_DETAILS', ['true', 'false'], 'false') === 'true';
  const token = reader.optionalString('HEALTH_TOKEN');
  if (token !== undefined && token.length < 16) reader.problem('HEALTH_TOKEN: expected at least 16 characters');
  return { details, token };
}
