/**
 * A typed client for the tests, derived from the route declarations (functions/http/api-routes.ts): a route is
 * called by name, its path, query, header and body inputs are the input types of its zod schemas, and the answer is
 * a union over the statuses it declares, each with the body its schema gives (errors: the contract's envelope).
 *
 *   const api = typedApi(stack.api);
 *   const created = await api.call('createSession', { body: { sessionId: 'alice' } });
 *   if (created.status === 201) created.body.session.status; // typed
 *
 * It goes through `ApiClient` (test/support/http-client.ts), so key handling and timeouts are the same.
 */
import type { z } from 'zod';
import { apiRoutes, type ApiRouteName, type ApiRoutes } from '../../functions/http/api-routes.js';
import type { ApiClient, ApiResponse } from './http-client.js';

type RequestSchema<R, Part extends string> = R extends { request: { [P in Part]: infer S extends z.ZodType } } ? S : never;
type BodySchema<R> = R extends { request: { body: { content: { 'application/json': { schema: infer S extends z.ZodType } } } } }
  ? S
  : never;

/** One input part: absent when the route declares none, optional when every field of it is. */
type InputPart<Name extends string, S> = [S] extends [never]
  ? unknown
  : Record<string, never> extends z.input<S>
    ? { [K in Name]?: z.input<S> }
    : { [K in Name]: z.input<S> };

export type RouteInput<R> = InputPart<'params', RequestSchema<R, 'params'>> &
  InputPart<'query', RequestSchema<R, 'query'>> &
  InputPart<'headers', RequestSchema<R, 'headers'>> &
  InputPart<'body', BodySchema<R>>;

/** What a test may add to any call: another key (null: none), headers of its own. */
export interface CallOptions {
  apiKey?: string | null;
  extraHeaders?: Record<string, string>;
}

type JsonBodyOf<Response> = Response extends { content: { 'application/json': { schema: infer S extends z.ZodType } } }
  ? z.output<S>
  : unknown;

/** The answer of a route: one member per declared status, discriminated by `status`. */
export type RouteResponse<R extends { responses: object }> = {
  [S in keyof R['responses'] & number]: Omit<ApiResponse<JsonBodyOf<R['responses'][S]>>, 'status'> & { status: S };
}[keyof R['responses'] & number];

type Args<N extends ApiRouteName> = Record<string, never> extends RouteInput<ApiRoutes[N]>
  ? [input?: RouteInput<ApiRoutes[N]> & CallOptions]
  : [input: RouteInput<ApiRoutes[N]> & CallOptions];

export interface TypedApi {
  call<N extends ApiRouteName>(name: N, ...args: Args<N>): Promise<RouteResponse<ApiRoutes[N]>>;
  /** The concrete path of a route (parameters filled in and percent-encoded), for tests that need the raw client. */
  pathOf(name: ApiRouteName, params?: Record<string, string>): string;
}

export function typedApi(api: ApiClient): TypedApi {
  const pathOf = (name: ApiRouteName, params: Record<string, string> = {}) =>
    apiRoutes[name].path.replace(/\{([^}]+)\}/g, (_whole, param: string) => {
      const value = params[param];
      if (value === undefined) throw new Error(`${name} needs the path parameter ${param}`);
      return encodeURIComponent(value);
    });
  return {
    pathOf,
    async call(name, ...args) {
      const input = (args[0] ?? {}) as {
        params?: Record<string, string>;
        query?: Record<string, string | undefined>;
        headers?: Record<string, string | undefined>;
        body?: unknown;
      } & CallOptions;
      const query = new URLSearchParams();
      for (const [field, value] of Object.entries(input.query ?? {})) if (value !== undefined) query.set(field, value);
      const headers: Record<string, string> = { ...input.extraHeaders };
      for (const [header, value] of Object.entries(input.headers ?? {})) if (value !== undefined) headers[header] = value;
      const path = `${pathOf(name, input.params)}${query.size > 0 ? `?${query.toString()}` : ''}`;
      const response = await api.request(apiRoutes[name].method.toUpperCase(), path, {
        headers,
        ...(input.body === undefined ? {} : { body: input.body }),
        ...(input.apiKey === undefined ? {} : { apiKey: input.apiKey }),
      });
      // The status decides the member of the union; the body is what the server sent (the e2e tests check it).
      return response as never;
    },
  };
}
