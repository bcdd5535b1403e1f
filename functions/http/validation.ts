/**
 * Request validation from the route declarations (api-routes.ts), in the contract's one envelope.
 *
 * @hono/zod-openapi validates each declared part (query, path, headers, JSON body) with its zod schema; this file
 * decides what a failure looks like (VALIDATION_FAILED with `details.fields`, the same paths as ever: body fields as
 * they are, path parameters by name, `query.<name>`, `header.<name>`) and reads JSON bodies by the contract's rules
 * before the library sees them.
 */
import type { Hook } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { describeIssues } from '../../contract/api.js';
import { ValidationError } from '../../contract/errors.js';
import type { ApiEnv } from './api-env.js';
import { readJsonBody } from './middleware.js';

/** Where a failing field of each validation target is reported. */
const pathPrefixOfTarget: Record<string, string> = { json: '', param: '', query: 'query', header: 'header' };

/** The `defaultHook` of every route: a validation failure becomes the contract's 400 (thrown to `onError`). */
export const validationHook: Hook<unknown, ApiEnv, string, undefined> = (result) => {
  if (!result.success) throw new ValidationError(describeIssues(result.error, pathPrefixOfTarget[result.target] ?? result.target));
  return undefined;
};

/**
 * Reads the body of a route that declares one by `readJsonBody`'s rules (413 over the limit, 415 when not JSON, 400
 * when not a JSON object, an empty body reads as `{}`), then hands the library a request that carries exactly that
 * object as `application/json`. Its own body handling differs in small ways (an empty body with another content
 * type is a 415 there, a body that is not JSON a plain-text 400); this keeps the contract's rules in one place.
 */
export async function normaliseJsonBody(c: Context<ApiEnv>, limitBytes?: number): Promise<void> {
  const body = await readJsonBody(c, limitBytes);
  const headers = new Headers(c.req.raw.headers);
  headers.set('content-type', 'application/json');
  headers.delete('content-length');
  c.req.raw = new Request(c.req.raw.url, { method: c.req.raw.method, headers, body: JSON.stringify(body) });
  c.req.bodyCache = {};
}
