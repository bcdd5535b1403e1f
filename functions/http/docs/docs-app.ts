/**
 * The `docs` function's app: the docs page's three paths (docs-paths.ts, the same as their declarations in
 * api-routes.ts) and nothing else. It imports neither the route declarations nor zod: the function is Swagger UI's
 * assets, this file and Hono. Its routes need no key, no Redis and no configuration; anything else that reaches it
 * (API Gateway sends it nothing else) is 404 in the contract's envelope.
 */
import { Hono } from 'hono';
import type { ErrorBody } from '../../../contract/errors.js';
import { docsAssetHeaders, docsPageHtml, swaggerUiScript, swaggerUiStyle } from './docs-page.js';
import { docsPaths } from './docs-paths.js';

export function createDocsApp() {
  const app = new Hono();
  app.get(docsPaths.page, (c) => c.html(docsPageHtml(), 200));
  app.get(docsPaths.script, (c) => c.body(swaggerUiScript(), 200, docsAssetHeaders.script));
  app.get(docsPaths.style, (c) => c.body(swaggerUiStyle(), 200, docsAssetHeaders.style));
  const refuse = (status: 404 | 500, error: ErrorBody) =>
    new Response(JSON.stringify({ error }), { status, headers: { 'content-type': 'application/json' } });
  app.notFound((c) => refuse(404, { code: 'NOT_FOUND', message: `No route ${c.req.method} ${c.req.path}.` }));
  app.onError(() => refuse(500, { code: 'INTERNAL', message: 'Something went wrong on our side.' }));
  return app;
}
