/**
 * The docs page's three routes (declared in api-routes.ts: `docsPage`, `docsScript`, `docsStyle`), served two ways:
 * - `serveDocs(app)` registers them with their handlers on the whole REST app of `createApp` (tests, and anything
 *   that runs the app in one process);
 * - the `api` function's app (`createApiApp` in app.ts) only declares them (`docsRoutes`), so its OpenAPI document
 *   and route table are the same but its bundle does not carry Swagger UI (about 650 KB): API Gateway sends these
 *   three paths to the `docs` function (serverless.yml), whose small app is docs-app.ts.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Env } from 'hono';
import { apiRoutes } from '../api-routes.js';
import { docsAssetHeaders, docsPageHtml, swaggerUiScript, swaggerUiStyle } from './docs-page.js';

/** The routes this module serves, as declared once in api-routes.ts (serverless.yml routes the same paths). */
export const docsRoutes = [apiRoutes.docsPage, apiRoutes.docsScript, apiRoutes.docsStyle] as const;

export function serveDocs<E extends Env>(app: OpenAPIHono<E>): void {
  app.openapi(apiRoutes.docsPage, (c) => c.html(docsPageHtml(), 200));
  app.openapi(apiRoutes.docsScript, (c) => c.body(swaggerUiScript(), 200, docsAssetHeaders.script));
  app.openapi(apiRoutes.docsStyle, (c) => c.body(swaggerUiStyle(), 200, docsAssetHeaders.style));
}
