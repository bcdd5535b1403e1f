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
  /**
   * Deployed stages: the name of the SSM SecureString holding the keys (comma-separated), read at cold start by
   * functions/runtime.ts; API_KEYS is then empty. Unset (the local stage): the keys come from API_KEYS.
   */
  apiKeysParameter: string | undefined;
  /** How long a handler waits for the session host; well under API Gateway's 29 s integration timeout. */
  commandTimeoutMs: number;
  wsManagementEndpoint: string;
  /** Sends allowed per session per window (0 = no limit), and the window. */
  sendRateLimit: { max: number; windowMs: number };
  idempotencyTtlSeconds: number;
  /** Webhook URLs may be http:// and private addresses (local stacks and tests only). */
  webhookAllowPrivate: boolean;
  /** Browser origins allowed to call the REST API cross-origin (CORS_ORIGINS); empty: none (the default). */
  corsOrigins: string[];
  /** The caps of docs/api.md "Limits" (0 = none, where a cap may be turned off). */
  limits: FunctionsLimits;
}

export interface FunctionsLimits {
  /** Sessions one tenant key may hold at once (MAX_SESSIONS_PER_KEY, default 20); more: 409 LIMIT_REACHED. */
  sessionsPerKey: number;
  /** Requests per tenant key per window, on every route (KEY_RATE_LIMIT, default 600 per KEY_RATE_WINDOW_MS 60 s). */
  tenantRate: { max: number; windowMs: number };
  /** The same for administrator keys (ADMIN_KEY_RATE_LIMIT, default 0: none; same window). */
  adminRate: { max: number; windowMs: number };
  /** Wrong keys one client address may present per window before it gets 429 (FAILED_KEY_LIMIT 20 per FAILED_KEY_WINDOW_MS 5 min). */
  failedKeys: { max: number; windowMs: number };
  /** Idempotency-Key records one key may hold (IDEMPOTENCY_MAX_RECORDS_PER_KEY, default 10,000); more: 429. */
  idempotencyRecordsPerKey: number;
  /** Subscriptions one WebSocket connection may hold (WS_MAX_SUBSCRIPTIONS, default 100); more: LIMIT_REACHED. */
  subscriptionsPerConnection: number;
  /** Keys that `POST /api/keys` may make (MAX_API_KEYS, default 1,000). */
  apiKeys: number;
}

/** The caps of docs/api.md "Limits", from the environment (EnvReader reports every bad value together). */
export function limitsOf(read: EnvReader): FunctionsLimits {
  const keyWindowMs = read.integer('KEY_RATE_WINDOW_MS', 60_000, { min: 1_000, max: 3_600_000 });
  return {
    sessionsPerKey: read.integer('MAX_SESSIONS_PER_KEY', 20, { min: 0, max: 1_000_000 }),
    tenantRate: { max: read.integer('KEY_RATE_LIMIT', 600, { min: 0, max: 10_000_000 }), windowMs: keyWindowMs },
    adminRate: { max: read.integer('ADMIN_KEY_RATE_LIMIT', 0, { min: 0, max: 10_000_000 }), windowMs: keyWindowMs },
    failedKeys: {
      max: read.integer('FAILED_KEY_LIMIT', 20, { min: 0, max: 1_000_000 }),
      windowMs: read.integer('FAILED_KEY_WINDOW_MS', 300_000, { min: 1_000, max: 86_400_000 }),
    },
    idempotencyRecordsPerKey: read.integer('IDEMPOTENCY_MAX_RECORDS_PER_KEY', 10_000, { min: 0, max: 10_000_000 }),
    subscriptionsPerConnection: read.integer('WS_MAX_SUBSCRIPTIONS', 100, { min: 1, max: 100_000 }),
    apiKeys: read.integer('MAX_API_KEYS', 1_000, { min: 1, max: 1_000_000 }),
  };
}

export function readFunctionsConfig(env: Record<string, string | undefined> = process.env): FunctionsConfig {
  const read = new EnvReader(env);
  const config: FunctionsConfig = {
    stage: read.string('STAGE', 'local'),
    redisUrl: read.url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    keyPrefix: read.pattern('KEY_PREFIX', 'wa', /^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "-" or "."'),
    engine: read.oneOf('WA_ENGINE', engineNames, 'webjs'),
    apiKeyDigests: read.list('API_KEYS').map(digestOfKey),
    apiKeysParameter: read.optionalString('API_KEYS_PARAMETER'),
    commandTimeoutMs: read.integer('COMMAND_TIMEOUT_MS', 15_000, { min: 100, max: 28_000 }),
    wsManagementEndpoint: read.url('WS_MANAGEMENT_ENDPOINT', 'http://127.0.0.1:3001', ['http:', 'https:']),
    sendRateLimit: {
      max: read.integer('SEND_RATE_LIMIT', 60, { min: 0, max: 1_000_000 }),
      windowMs: read.integer('SEND_RATE_WINDOW_MS', 60_000, { min: 1_000, max: 3_600_000 }),
    },
    idempotencyTtlSeconds: read.integer('IDEMPOTENCY_TTL_SECONDS', 24 * 3_600, { min: 60, max: 7 * 24 * 3_600 }),
    webhookAllowPrivate: read.oneOf('WEBHOOK_ALLOW_PRIVATE', ['true', 'false'], 'false') === 'true',
    corsOrigins: corsOriginsOf(read),
    limits: limitsOf(read),
  };
  if (config.apiKeysParameter !== undefined) {
    if (!/^\/[A-Za-z0-9_./-]{1,1010}$/.test(config.apiKeysParameter)) {
      read.problem('API_KEYS_PARAMETER: expected an SSM parameter name starting with "/"');
    }
    // One source of keys, so that nobody wonders which one wins.
    if (config.apiKeyDigests.length > 0) read.problem('API_KEYS_PARAMETER and API_KEYS are both set: keep only one');
  }
  read.done();
  return config;
}

/** Reads one SSM parameter, decrypted. The real one is `ssmParameterReader()`; tests pass their own. */
export type ParameterReader = (name: string) => Promise<string>;

/**
 * The digests of the keys held (comma-separated) in the SSM SecureString `name`. The keys themselves live only in
 * this call: neither the template, the state file nor the Lambda environment ever hold them.
 */
export async function readApiKeyDigestsFromSsm(name: string, readParameter: ParameterReader): Promise<Buffer[]> {
  const value = await readParameter(name);
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
    .map(digestOfKey);
}

/**
 * GetParameter with decryption, through the AWS SDK v3 that the Lambda runtime ships (loaded only when a stage reads
 * its keys from SSM, so that the local stage never pays for it). Honours AWS_ENDPOINT_URL_SSM, as the SDK does.
 */
export async function ssmParameterReader(region = process.env.AWS_REGION): Promise<ParameterReader> {
  const { SSMClient, GetParameterCommand } = await import('@aws-sdk/client-ssm');
  const client = new SSMClient({ ...(region === undefined ? {} : { region }), maxAttempts: 3 });
  return async (name) => {
    const output = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    const value = output.Parameter?.Value;
    if (value === undefined) throw new Error(`SSM parameter ${name} has no value`);
    return value;
  };
}

export function digestOfKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * CORS_ORIGINS: comma-separated origins (`https://app.example.com`, scheme, host and port only) allowed to call the
 * REST API from a browser on another origin, or `*` for any; empty (the default): no cross-origin calls at all.
 */
export function corsOriginsOf(read: EnvReader): string[] {
  const origins = read.list('CORS_ORIGINS');
  for (const origin of origins) {
    if (origin === '*') continue;
    let valid = false;
    try {
      const parsed = new URL(origin);
      valid = (parsed.protocol === 'https:' || parsed.protocol === 'http:') && parsed.origin === origin;
    } catch {
      valid = false;
    }
    if (!valid) read.problem(`CORS_ORIGINS: ${JSON.stringify(origin)} is not an origin (scheme://host[:port], no path) or "*"`);
  }
  return origins;
}

/** CORS_ORIGINS of the process environment (functions/http/app.ts, when not given); a bad value throws. */
export function corsOriginsFromEnv(env: Record<string, string | undefined> = process.env): string[] {
  const read = new EnvReader(env);
  const origins = corsOriginsOf(read);
  read.done();
  return origins;
}
