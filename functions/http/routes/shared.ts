/** Small helpers the route files share. */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ApiEnv } from '../api-env.js';
import type { StoredResponse } from '../idempotency.js';

/**
 * The answer of an idempotent route, run now or stored by an earlier request: either what the route itself answered
 * or one of the contract's error envelopes, so one of the answers its declaration lists. Its body may come back from
 * Redis untyped, hence `never`, which fits the declared answers of any route.
 */
export function respondStored(c: Context<ApiEnv>, response: StoredResponse): never {
  for (const [name, value] of Object.entries(response.headers ?? {})) c.header(name, value);
  return c.json(response.body, response.status as ContentfulStatusCode) as never;
}
