/** The functions' configuration, read once per cold start; a bad value fails the cold start with a clear message. */
import { createHash } from 'node:crypto';
import { engineNames, type EngineName } from '../contract/api.js';
import { EnvReader } from '../lib/env.js';

export interface FunctionsConfig {
  stage: string;
  redisUrl: string;
  keyPrefix: string;
  engine: EngineName;
  /** SHA-256 digests of the accepted API keys (the keys themselves are not kept). Empty: the API refuses to serve. */
  apiKeyDigests: Buffer[];
  /** How long a handler waits for the session host; well under API Gateway's 29 s integration timeout. */
  commandTimeoutMs: number;
  wsManagementEndpoint: string;
  /** Sends allowed per session per window (0 = no limit), and the window. */
  sendRateLimit: { max: number; windowMs: number };
  idempotencyTtlSeconds: number;
}

export function readFunctionsConfig(env: Record<string, string | undefined> = process.env): FunctionsConfig {
  const read = new EnvReader(env);
  const config: FunctionsConfig = {
    stage: read.string('STAGE', 'local'),
    redisUrl: read.url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    keyPrefix: read.pattern('KEY_PREFIX', 'wa', /^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "-" or "."'),
    engine: read.oneOf('WA_ENGINE', engineNames, 'webjs'),
    apiKeyDigests: read.list('API_KEYS').map(digestOfKey),
    commandTimeoutMs: read.integer('COMMAND_TIMEOUT_MS', 15_000, { min: 100, max: 28_000 }),
    wsManagementEndpoint: read.url('WS_MANAGEMENT_ENDPOINT', 'http://127.0.0.1:3001', ['http:', 'https:']),
    sendRateLimit: {
      max: read.integer('SEND_RATE_LIMIT', 60, { min: 0, max: 1_000_000 }),
      windowMs: read.integer('SEND_RATE_WINDOW_MS', 60_000, { min: 1_000, max: 3_600_000 }),
    },
    idempotencyTtlSeconds: read.integer('IDEMPOTENCY_TTL_SECONDS', 24 * 3_600, { min: 60, max: 7 * 24 * 3_600 }),
  };
  read.done();
  return config;
}

export function digestOfKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}
