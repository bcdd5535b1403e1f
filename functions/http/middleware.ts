/** Cross-cutting steps of the REST API: request ids, API keys, JSON bodies, and the one error envelope. */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { maxBodyBytes } from '../../contract/api.js';
import { httpStatusOf, ServiceError, ValidationError, type ErrorBody, type ErrorCode } from '../../contract/errors.js';
import type { Logger } from '../../lib/logger.js';
import { isRedisUnavailableError, RedisAuthError } from '../../lib/redis.js';
import { configKeyId, runAs, type Principal } from '../../lib/api-keys.js';
import { digestOfKey } from '../config.js';
import type { RequestLimiter } from './rate-limit.js';
import type { ApiEnv } from './api-env.js';

const requestIdPattern = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * Request ids and the one log line per request. The line names the declared route (`/api/messages/{sessionId}/chat/
 * {chatId}`), never the path as sent: a path holds phone numbers. Paths of no route are logged with digits masked.
 */
export function requestContext(logger: Logger, routeOf: (path: string) => string | undefined = () => undefined): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const given = c.req.header('x-request-id');
    const requestId =
      given !== undefined && requestIdPattern.test(given) ? given : (c.env?.lambdaContext?.awsRequestId ?? randomUUID());
    const requestLogger = logger.child({ requestId });
    c.set('requestId', requestId);
    c.set('logger', requestLogger);
    const started = performance.now();
    await next();
    c.header('x-request-id', requestId);
    requestLogger.info(
      {
        method: c.req.method,
        route: routeOf(c.req.path) ?? maskPath(c.req.path),
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      },
      'request',
    );
  };
}

/** A path fit for a log line: every digit masked, at most 200 characters. */
export function maskPath(path: string): string {
  return path.slice(0, 200).replace(/\d/g, '#');
}

/** A field of the Lambda event as API Gateway (or serverless offline) gave it; undefined in-process. */
function eventField(c: Context<ApiEnv>, name: string): unknown {
  const event: unknown = c.env?.event;
  return typeof event === 'object' && event !== null ? (event as Record<string, unknown>)[name] : undefined;
}

/** The values a header had in the Lambda event (every spelling of its name), before hono/aws-lambda read them. */
function eventHeaderValues(c: Context<ApiEnv>, name: string): string[] {
  const values: string[] = [];
  for (const field of ['headers', 'multiValueHeaders']) {
    const headers = eventField(c, field);
    if (typeof headers !== 'object' || headers === null) continue;
    for (const [key, value] of Object.entries(headers)) {
      if (key.toLowerCase() !== name) continue;
      if (typeof value === 'string') values.push(value);
      else if (Array.isArray(value)) values.push(...value.filter((item): item is string => typeof item === 'string'));
    }
  }
  return values;
}

/** The path parameter (`sessionId`) whose segment holds what `ambiguousPath` refuses, when the route is known. */
function offendingParameter(path: string, pattern: string | undefined): string | undefined {
  if (pattern === undefined) return undefined;
  const segments = path.split('/');
  const names = pattern.split('/');
  const index = segments.findIndex((segment) => /^\.{1,2}$|%2e|%2f|%5c|\\/i.test(segment));
  const name = index === -1 ? undefined : names[index];
  return name !== undefined && /^\{\w+\}$/.test(name) ? name.slice(1, -1) : undefined;
}

/** `.`/`..` segments, encoded dots, slashes or backslashes, and backslashes: paths that mean another path. */
const ambiguousPath = /(?:^|\/)\.{1,2}(?:\/|$)|%2e|%2f|%5c|\\/i;

/**
 * Refuses, before routing, what would be read another way than it was sent:
 * - a path with `.`/`..` segments or encoded slashes or dots (`DELETE /api/sessions/zzz/../X` is not a request about
 *   `X`): 400 VALIDATION_FAILED on `(path)`, as an encoded slash in an id always was. URL parsers (ours and serverless offline's) resolve such paths before the route is found, so this
 *   looks at every form the Lambda event keeps (`rawPath`, `path`, `pathParameters`). serverless offline
 *   resolves `..` and `%2e%2e` (WHATWG URL rules) before it builds the event, so on the local twin only the encoded
 *   slash forms reach us as sent (docs/api.md, "Security");
 * - an empty `Idempotency-Key` header (hono/aws-lambda drops empty headers, which made it look absent): 400.
 */
export function requestShapeCheck(routeOf: (path: string) => string | undefined = () => undefined): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const forms: string[] = [c.req.path, new URL(c.req.url).pathname];
    for (const name of ['rawPath', 'path']) {
      const value = eventField(c, name);
      if (typeof value === 'string') forms.push(value);
    }
    const parameters = eventField(c, 'pathParameters');
    if (typeof parameters === 'object' && parameters !== null) {
      for (const value of Object.values(parameters)) if (typeof value === 'string') forms.push(value);
    }
    if (forms.some((form) => ambiguousPath.test(form))) {
      throw new ValidationError(
        [{ path: offendingParameter(c.req.path, routeOf(c.req.path)) ?? '(path)', message: 'must not hold "." or ".." segments, encoded slashes, encoded dots or backslashes' }],
        'The path is refused: it holds "." or ".." segments, encoded slashes or encoded dots.',
      );
    }
    const idempotencyKeys = [...eventHeaderValues(c, 'idempotency-key'), ...(c.req.raw.headers.has('idempotency-key') ? [c.req.header('idempotency-key') ?? ''] : [])];
    if (idempotencyKeys.some((value) => value.trim() === '')) {
      throw new ValidationError([{ path: 'header.idempotency-key', message: 'must not be empty (leave the header out instead)' }]);
    }
    return next();
  };
}

/**
 * CORS for the configured origins only (CORS_ORIGINS): preflights answered here, before the key check (a browser
 * sends none with them). No origin configured: no CORS header at all, so browsers on other origins cannot call.
 */
export function corsPolicy(origins: readonly string[]): MiddlewareHandler<ApiEnv> {
  if (origins.length === 0) return async (_c, next) => next();
  const any = origins.includes('*');
  return cors({
    origin: (origin) => (any ? '*' : origins.includes(origin) ? origin : null),
    allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowHeaders: ['x-api-key', 'content-type', 'idempotency-key', 'x-request-id', 'accept'],
    exposeHeaders: ['x-request-id', 'retry-after', 'location'],
    maxAge: 600,
  });
}

/** What the key check needs besides the configured keys; all optional, so that an app with fakes needs none. */
export interface KeyCheckOptions {
  /** Keys made through `POST /api/keys` (lib/api-keys.ts): looked up by digest, every request. */
  store?: { resolve(secret: string): Promise<Principal | null> } | undefined;
  /** Wrong keys per client address, and requests per key (rate-limit.ts). */
  limiter?: RequestLimiter | undefined;
  /** Resolves when Redis is usable (or throws SERVICE_UNAVAILABLE quickly): the store and limiter need it. */
  ready?: (() => Promise<void>) | undefined;
}

/**
 * Checks `x-api-key`, before routing: a request without a valid key learns nothing, not even whether its route exists.
 * A configured key (API_KEYS or SSM) is matched in memory in constant time (digests of equal length, no early exit)
 * and acts as an administrator; any other key is looked up by its digest among the keys made through `/api/keys`.
 * Then, when a limiter is given: a client address that presented too many wrong keys gets 429 before its key is even
 * looked at (right or wrong, so the answer tells a guesser nothing), each wrong key counts against its address, and
 * every request counts against its key's rate. The rest of the request runs as the key's principal (lib/api-keys.ts).
 */
export function apiKeyCheck(keyDigests: readonly Buffer[], isPublic: (c: Context<ApiEnv>) => boolean, options: KeyCheckOptions = {}): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (isPublic(c)) return next();
    // With no key configured (and none stored) every key is wrong: 401 for all, as the contract says (fail closed).
    if (keyDigests.length === 0 && options.store === undefined) c.get('logger').error('API_KEYS is empty: refusing every request (fail closed)');
    const presented = c.req.header('x-api-key');
    if (presented === undefined || presented === '' || !isSingleKey(presented, eventHeaderValues(c, 'x-api-key'))) {
      throw new ServiceError('UNAUTHORIZED', 'A valid x-api-key header is required (exactly one).');
    }
    const address = clientAddress(c);
    if (options.limiter !== undefined || options.store !== undefined) await options.ready?.();
    // Both at once (one round trip with auto-pipelining); a blocked address gets 429 whatever its key was.
    const [blocked, found] = await Promise.allSettled([
      options.limiter?.checkAddress(address),
      principalOf(presented, keyDigests, options.store),
    ]);
    if (blocked.status === 'rejected') throw blocked.reason;
    if (found.status === 'rejected') throw found.reason;
    const principal = found.value ?? null;
    if (principal === null) {
      await options.limiter?.failedKey(address);
      throw new ServiceError('UNAUTHORIZED', 'A valid x-api-key header is required (exactly one).');
    }
    await options.limiter?.take(principal);
    return runAs(principal, next);
  };
}

/** The principal of a presented key: a configured administrator key, a stored key, or undefined. */
export async function principalOf(
  presented: string,
  keyDigests: readonly Buffer[],
  store?: { resolve(secret: string): Promise<Principal | null> },
): Promise<Principal | undefined> {
  const configured = matchingDigest(presented, keyDigests);
  if (configured !== undefined) return { keyId: configKeyId(configured), scope: 'admin' };
  return (await store?.resolve(presented)) ?? undefined;
}

/**
 * The client's address as API Gateway saw it (`requestContext.http.sourceIp` of an HTTP API, `identity.sourceIp` of a
 * REST API): never a header the client could set. `unknown` in-process.
 */
export function clientAddress(c: Context<ApiEnv>): string {
  const context = eventField(c, 'requestContext');
  if (typeof context === 'object' && context !== null) {
    const record = context as { http?: { sourceIp?: unknown }; identity?: { sourceIp?: unknown } };
    const ip = record.http?.sourceIp ?? record.identity?.sourceIp;
    if (typeof ip === 'string' && /^[0-9A-Fa-f.:]{2,45}$/.test(ip)) return ip;
  }
  return 'unknown';
}

/**
 * Whether one key was sent, not several: API Gateway joins a repeated header with "," (keys never hold one: API_KEYS
 * is a comma-separated list) and lists each value in `multiValueHeaders`; Headers joins them with ", ". Any of these
 * is refused, so that a request never passes on one of two keys. (serverless offline keeps only the last value of a
 * repeated header: the local twin cannot see the repetition; docs/api.md, "Security".)
 */
export function isSingleKey(presented: string, eventValues: readonly string[] = []): boolean {
  if (presented.includes(',')) return false;
  if (eventValues.some((value) => value.includes(','))) return false;
  return eventValues.length <= 1 || eventValues.every((value) => value === presented);
}

export function keyMatches(presented: string, keyDigests: readonly Buffer[]): boolean {
  return matchingDigest(presented, keyDigests) !== undefined;
}

/** The configured digest the key matches, compared with every one in constant time (no early exit). */
export function matchingDigest(presented: string, keyDigests: readonly Buffer[]): Buffer | undefined {
  const digest = digestOfKey(presented);
  let matched: Buffer | undefined;
  for (const candidate of keyDigests) if (timingSafeEqual(digest, candidate)) matched = candidate;
  return matched;
}

/**
 * Reads a JSON object body: 413 over the limit, 415 when it is not JSON, 400 when it is not an object. An empty body
 * reads as `{}` so that routes whose fields are all optional can be called without one.
 */
export async function readJsonBody(c: Context<ApiEnv>, limitBytes = maxBodyBytes): Promise<Record<string, unknown>> {
  const declaredLength = Number(c.req.header('content-length') ?? '0');
  if (declaredLength > limitBytes) throw payloadTooLarge(limitBytes);
  const text = await c.req.text();
  if (Buffer.byteLength(text, 'utf8') > limitBytes) throw payloadTooLarge(limitBytes);
  if (text.trim() === '') return {};
  const contentType = c.req.header('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType)) {
    throw new ServiceError('UNSUPPORTED_MEDIA_TYPE', 'The body must be JSON, sent with content-type: application/json.');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ValidationError([{ path: '(root)', message: 'is not valid JSON' }], 'The body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ValidationError([{ path: '(root)', message: 'must be a JSON object' }]);
  }
  return parsed as Record<string, unknown>;
}

function payloadTooLarge(limitBytes: number): ServiceError {
  return new ServiceError('PAYLOAD_TOO_LARGE', `The body is larger than ${limitBytes} bytes.`, {
    details: { maxBytes: limitBytes },
  });
}

const httpExceptionCodes: Partial<Record<number, ErrorCode>> = {
  400: 'VALIDATION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/** The one place where an error becomes an HTTP answer; never a stack trace in the body. */
export function errorResponse(c: Context<ApiEnv>, error: unknown): Response {
  const logger = c.get('logger');
  let serviceError: ServiceError;
  if (error instanceof ServiceError) {
    serviceError = error;
  } else if (error instanceof HTTPException && httpExceptionCodes[error.status] !== undefined) {
    // Hono's own refusals (its validators' body checks), should one ever get past validation.ts: same envelope.
    serviceError = new ServiceError(httpExceptionCodes[error.status] ?? 'INTERNAL', error.message);
  } else if (isRedisUnavailableError(error)) {
    serviceError = new ServiceError('SERVICE_UNAVAILABLE', 'The service cannot reach its state store right now; retry shortly.');
  } else {
    serviceError = new ServiceError('INTERNAL', `Something went wrong on our side (request ${c.get('requestId') ?? 'unknown'}).`);
  }
  const status = httpStatusOf(serviceError.code);
  // A bug is logged with its stack; an answer of the contract (a host away, a deadline, a refusal) is not a bug.
  if (serviceError.code === 'INTERNAL') logger?.error({ err: error }, 'request failed');
  else if (error instanceof RedisAuthError) logger?.error({ reason: error.message }, 'Redis refused our credentials (REDIS_URL)');
  else if (status >= 500) logger?.warn({ code: serviceError.code, reason: serviceError.message }, 'request not served');
  else logger?.debug({ code: serviceError.code }, 'request refused');
  if (serviceError.code === 'RATE_LIMITED') {
    const retryAfter = serviceError.details?.retryAfterSeconds;
    if (typeof retryAfter === 'number') c.header('retry-after', String(retryAfter));
  }
  if (serviceError.code === 'METHOD_NOT_ALLOWED') {
    const allow = serviceError.details?.allow;
    if (Array.isArray(allow)) c.header('allow', allow.join(', '));
  }
  const body: { error: ErrorBody } = { error: serviceError.toBody() };
  return c.json(body, status as ContentfulStatusCode);
}
