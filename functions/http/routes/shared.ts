/** Small helpers the route files share. */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ValidationError } from '../../../contract/errors.js';
import type { ApiEnv } from '../api-env.js';
import { idempotencyKeyPattern, type StoredResponse } from '../idempotency.js';

/** The request's `Idempotency-Key`, validated, or null when it has none. */
export function idempotencyKeyOf(c: Context<ApiEnv>): string | null {
  const key = c.req.header('idempotency-key');
  if (key === undefined) return null;
  if (!idempotencyKeyPattern.test(key)) {
    throw new ValidationError([
      { path: 'header.idempotency-key', message: 'must be 1 to 128 letters, digits, "_", "-", "." or ":"' },
    ]);
  }
  return key;
}

export function respondStored(c: Context<ApiEnv>, response: StoredResponse): Response {
  for (const [name, value] of Object.entries(response.headers ?? {})) c.header(name, value);
  return c.json(response.body, response.status as ContentfulStatusCode);
}
