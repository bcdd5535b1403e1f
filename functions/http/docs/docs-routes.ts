/**
 * The docs page's three routes (declared in api-routes.ts: `docsPage`, `docsScript`, `docsStyle`), served two ways:
 * - `serveDocs(app)` registers them with their handlers on an app: the whole REST app of `createApp` (tests, and
 *   anything that runs the app in one process) and the `docs` function's own small app (`createDocsApp`).
 * - The `api` function's app (`createApiApp` in app.ts) only declares them, so its OpenAPI document and route table
 *   are the same but its bundle does not carry Swagger UI (about 650 KB): API Gateway sends these three paths to the
 *   `docs` function (serverless.yml), which is all this module, Swagger UI's assets and the route declarations.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Env } from 'hono';
import { ServiceError } from '../../../contract/errors.js';
import { apiRoutes } from '../api-routes.js';
import { docsPageHtml, swaggerUiScript, swaggerUiStyle } from './docs-page.js';

/** The routes this module serves, as declared once in api-routes.ts (serverless.yml routes the same paths). */
export const docsRoutes = [apiRoutes.docsPage, apiRoutes.docsScript, apiRoutes.docsStyle] as const;

export function serveDocs<E extends Env>(app: OpenAPIHono<E>): void {
  app.openapi(apiRoutes.docsPage, (c) => c.html(docsPageHtml(), 200));
  app.openapi(apiRoutes.docsScript, (c) =>
    c.body(swaggerUiScript(), 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=3600' }),
  );
  app.openapi(apiRoutes.docsStyle, (c) =>
    c.body(swaggerUiStyle(), 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=3600' }),
  );
}

/**
 * The `docs` function's app: the three routes and nothing else. They need no key, no Redis and no configuration;
 * anything else that reaches it (API Gateway sends it nothing else) is 404 in the contract's envelope.
 */
export function createDocsApp() {
  const app = new OpenAPIHono();
  serveDocs(app);
  const refuse = (status: 404 | 500, error: ServiceError) => new Response(JSON.stringify({ error: error.toBody() }), {
    status,
    headers: { 'content-type': 'application/json' },
  });
  app.notFound((c) => refuse(404, new ServiceError('NOT_FOUND', `No route ${c.req.method} ${c.req.path}.`)));
  app.onError(() => refuse(500, new ServiceError('INTERNAL', 'Something went wrong on our side.')));
  return app;
}
