/** Cross-cutting steps of the REST API: request ids, API keys, JSON bodies, and the one error envelope. */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { maxBodyBytes } from '../../contract/api.js';
import { httpStatusOf, ServiceError, ValidationError, type ErrorBody, type ErrorCode } from '../../contract/errors.js';
import type { Logger } from '../../lib/logger.js';
import { isRedisUnavailableError } from '../../lib/redis.js';
import { digestOfKey } from '../config.js';
import type { ApiEnv } from './api-env.js';

const requestIdPattern = /^[A-Za-z0-9_.:-]{1,128}$/;

export function requestContext(logger: Logger): MiddlewareHandler<ApiEnv> {
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
      { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) },
      'request',
    );
  };
}

/**
 * Checks `x-api-key` against every configured key in constant time (digests of equal length, and no early exit),
 * before routing: a request without a valid key learns nothing, not even whether its route exists.
 */
export function apiKeyCheck(keyDigests: readonly Buffer[], isPublic: (c: Context<ApiEnv>) => boolean): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (isPublic(c)) return next();
    // With no key configured every key is wrong: 401 for all, as the contract says (fail closed), and loud logs.
    if (keyDigests.length === 0) c.get('logger').error('API_KEYS is empty: refusing every request (fail closed)');
    const presented = c.req.header('x-api-key');
    if (presented === undefined || !keyMatches(presented, keyDigests)) {
      throw new ServiceError('UNAUTHORIZED', 'A valid x-api-key header is required.');
    }
    return next();
  };
}

export function keyMatches(presented: string, keyDigests: readonly Buffer[]): boolean {
  const digest = digestOfKey(presented);
  let matched = false;
  for (const candidate of keyDigests) matched = timingSafeEqual(digest, candidate) || matched;
  return matched;
}

/**
 * Reads a JSON object body: 413 over the limit, 415 when it is not JSON, 400 when it is not an object. An empty body
 * reads as `{}` so that routes whose fields are all optional can be called without one.
 */
export async function readJsonBody(c: Context<ApiEnv>): Promise<Record<string, unknown>> {
  const declaredLength = Number(c.req.header('content-length') ?? '0');
  if (declaredLength > maxBodyBytes) throw payloadTooLarge();
  const text = await c.req.text();
  if (Buffer.byteLength(text, 'utf8') > maxBodyBytes) throw payloadTooLarge();
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

function payloadTooLarge(): ServiceError {
  return new ServiceError('PAYLOAD_TOO_LARGE', `The body is larger than ${maxBodyBytes} bytes.`, {
    details: { maxBytes: maxBodyBytes },
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
