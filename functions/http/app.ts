/**
 * The REST API of ../shared/contract.md as one Hono app: sub-apps per resource, each route declared once
 * (api-routes.ts) and registered with `app.openapi()`, which validates it and puts it in the OpenAPI document.
 * Order of checks for every request: API key (401 whatever the route), then route (404/405), then validation
 * (400/413/415), then the session's state (404/409), then the session host (503/504).
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { ServiceError } from '../../contract/errors.js';
import packageJson from '../../package.json' with { type: 'json' };
import type { ApiEnv } from './api-env.js';
import { apiRoutes } from './api-routes.js';
import type { ApiDependencies } from './dependencies.js';
import { dashboardPageHtml, dashboardScript, webSocketUrlFor } from './dashboard/dashboard-page.js';
import { CommandRecorder, emfEnabled, emfLine } from './emf.js';
import { docsRoutes, serveDocs } from './docs/docs-routes.js';
import { corsOriginsFromEnv } from '../config.js';
import { apiKeyCheck, corsPolicy, errorResponse, requestContext, requestShapeCheck } from './middleware.js';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi.js';
import { routeTableOf, type RouteTable } from './route-table.js';
import { messageRoutes } from './routes/messages.js';
import { sessionRoutes } from './routes/sessions.js';
import { webhookRoutes } from './routes/webhooks.js';
import { keyRoutes } from './routes/keys.js';
import { simulatorRoutes } from './routes/simulator.js';
import { normaliseJsonBody, validationHook } from './validation.js';


export interface AppOptions {
  /** Where CloudWatch embedded-metric lines go (emf.ts); default: stdout when `emfEnabled()`, else nowhere. */
  emitMetrics?: ((line: string) => void) | null;
  /** Origins allowed cross-origin (CORS); default: CORS_ORIGINS, empty = none. */
  corsOrigins?: readonly string[];
}

/** The whole REST API in one app, the docs page included (tests, and anything that runs the app in one process). */
export function createApp(givenDeps: ApiDependencies, options: AppOptions = {}) {
  return buildApp(givenDeps, options, serveDocs);
}

/**
 * The REST API of the `api` function: the same routes and OpenAPI document, but the docs page's three routes are
 * only declared: API Gateway sends them to the `docs` function (docs/docs-routes.ts), so Swagger UI stays out of this
 * bundle (its imports are tree-shaken away: nothing here reaches `createApp`).
 */
export function createApiApp(givenDeps: ApiDependencies, options: AppOptions = {}) {
  return buildApp(givenDeps, options, (app) => {
    for (const route of docsRoutes) app.openAPIRegistry.registerPath(route);
  });
}

function buildApp(givenDeps: ApiDependencies, options: AppOptions, docs: (app: OpenAPIHono<ApiEnv>) => void) {
  const app = new OpenAPIHono<ApiEnv>({ defaultHook: validationHook });
  const emitMetrics =
    options.emitMetrics === undefined ? (emfEnabled() ? (line: string) => void process.stdout.write(`${line}\n`) : null) : options.emitMetrics;
  const recorder = new CommandRecorder();
  // With metrics on, the routes' commands are timed and counted per request (each request's id is its trace id).
  const deps: ApiDependencies = emitMetrics === null ? givenDeps : { ...givenDeps, bus: recorder.wrap(givenDeps.bus) };
  // Filled in once every route is registered (below); requests only come after.
  let table: RouteTable = { paths: [], find: () => undefined };
  let document: OpenApiDocument | undefined;

  // The request's log line names the declared route, never the path as sent (it holds phone numbers).
  app.use('*', requestContext(deps.logger, (path) => table.find(path)?.path));
  if (emitMetrics !== null) {
    app.use('*', async (c, next) => {
      const requestId = c.get('requestId');
      const started = performance.now();
      recorder.begin(requestId);
      try {
        await next();
      } finally {
        const commands = recorder.end(requestId);
        const route = table.find(c.req.path)?.path ?? '(no route)';
        emitMetrics(emfLine({ route, method: c.req.method, status: c.res.status, latencyMs: performance.now() - started }, commands));
      }
    });
  }
  // CORS before the key: a browser's preflight carries no key.
  app.use('*', corsPolicy(options.corsOrigins ?? corsOriginsFromEnv()));
  app.use(
    '*',
    apiKeyCheck(deps.config.apiKeyDigests, (c) => table.find(c.req.path)?.publicMethods.has(c.req.method) === true, {
      store: deps.apiKeys,
      limiter: deps.requestLimiter,
      ready: deps.ready,
    }),
  );
  // Then, before any route: paths that mean another path (`..`, encoded slashes) and empty Idempotency-Keys.
  app.use('*', requestShapeCheck((path) => table.find(path)?.path));

  // Routes that need no Redis come before the readiness check.
  app.openapi(apiRoutes.health, async (c) => {
    if (await deps.ping()) return c.json({ status: 'ok' as const }, 200);
    throw new ServiceError('SERVICE_UNAVAILABLE', 'Redis does not answer.');
  });
  app.openapi(apiRoutes.openApiDocument, (c) => {
    // Built once per app, on first request: every route is registered by then.
    document ??= buildOpenApiDocument(app, { version: packageJson.version });
    return c.json(document, 200);
  });
  docs(app);
  // The dashboard: the page names the WebSocket API's URL (WS_PUBLIC_URL, or derived: dashboard-page.ts).
  const dashboard = (c: Context<ApiEnv>) =>
    c.html(dashboardPageHtml(webSocketUrlFor({ host: c.req.header('host'), secure: c.req.header('x-forwarded-proto') === 'https' })), 200, { 'cache-control': 'no-store', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' });
  app.openapi(apiRoutes.dashboardRoot, dashboard);
  app.openapi(apiRoutes.dashboardPage, dashboard);
  app.openapi(apiRoutes.dashboardScript, (c) =>
    c.body(dashboardScript, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }),
  );

  // Everything past here needs Redis: answer 503 quickly when it is away instead of hanging. Then read the JSON body
  // of a route that declares one, by the contract's rules, before its validators see it.
  app.use('/api/*', async (c, next) => {
    const declared = table.find(c.req.path);
    if (declared === undefined || declared.methods.every((method) => declared.publicMethods.has(method))) return next();
    await deps.ready();
    if (declared.bodyMethods.has(c.req.method)) await normaliseJsonBody(c, declared.bodyLimits.get(c.req.method));
    return next();
  });

  app.route('/', sessionRoutes(deps));
  app.route('/', messageRoutes(deps));
  app.route('/', webhookRoutes(deps));
  app.route('/', keyRoutes(deps));
  if (deps.config.engine === 'simulator') app.route('/', simulatorRoutes(deps));

  table = routeTableOf(app);

  app.notFound((c) => {
    const declared = table.find(c.req.path);
    if (declared !== undefined) {
      return errorResponse(
        c,
        new ServiceError('METHOD_NOT_ALLOWED', `${c.req.method} is not allowed here; use ${declared.methods.join(' or ')}.`, {
          details: { allow: declared.methods },
        }),
      );
    }
    return errorResponse(c, new ServiceError('NOT_FOUND', `No route ${c.req.method} ${c.req.path}.`));
  });
  app.onError((error, c) => errorResponse(c, error));
  return app;
}

export type ApiApp = ReturnType<typeof createApp>;
