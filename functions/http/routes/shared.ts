/** Small helpers the route files share. */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ApiEnv } from '../api-env.js';
import type { StoredResponse } from '../idempotency.js';

/**
 * The answer of an idempotent route (stored, or run now). Its body is what the route declares: it was produced by
 * the same handler, or is an error envelope of the contract; typed as such since it may come back from Redis.
 */
export function respondStored(c: Context<ApiEnv>, response: StoredResponse): never {
  for (const [name, value] of Object.entries(response.headers ?? {})) c.header(name, value);
  return c.json(response.body, response.status as ContentfulStatusCode) as never;
}
