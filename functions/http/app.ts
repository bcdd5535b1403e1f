/**
 * The REST API of ../shared/contract.md as one Hono app: sub-apps per resource, mounted with `app.route()`.
 * Order of checks for every request: API key (401 whatever the route), then route (404/405), then validation
 * (400/413/415), then the session's state (404/409), then the session host (503/504).
 */
import { Hono, type Context } from 'hono';
import { ServiceError } from '../../contract/errors.js';
import type { ApiEnv } from './api-env.js';
import type { ApiDependencies } from './dependencies.js';
import { apiKeyCheck, errorResponse, requestContext } from './middleware.js';
import { messageRoutes } from './routes/messages.js';
import { sessionRoutes } from './routes/sessions.js';
import { simulatorRoutes } from './routes/simulator.js';

interface KnownRoute {
  pattern: RegExp;
  methods: string[];
}

const segment = '[^/]+';
const knownRoutes: KnownRoute[] = [
  { pattern: /^\/api\/health$/, methods: ['GET'] },
  { pattern: /^\/api\/sessions$/, methods: ['GET', 'POST'] },
  { pattern: new RegExp(`^/api/sessions/${segment}$`), methods: ['GET', 'DELETE'] },
  { pattern: new RegExp(`^/api/sessions/${segment}/qr$`), methods: ['GET'] },
  { pattern: new RegExp(`^/api/sessions/${segment}/restart$`), methods: ['POST'] },
  { pattern: new RegExp(`^/api/sessions/${segment}/pairing-code$`), methods: ['POST'] },
  { pattern: new RegExp(`^/api/messages/${segment}/send$`), methods: ['POST'] },
  { pattern: new RegExp(`^/api/messages/${segment}/chats$`), methods: ['GET'] },
  { pattern: new RegExp(`^/api/messages/${segment}/chat/${segment}$`), methods: ['GET'] },
  { pattern: new RegExp(`^/api/messages/${segment}/contacts$`), methods: ['GET'] },
  { pattern: new RegExp(`^/api/messages/${segment}/contacts/${segment}$`), methods: ['GET'] },
];
const simulatorRoutesKnown: KnownRoute[] = [
  { pattern: new RegExp(`^/api/simulator/sessions/${segment}/scan$`), methods: ['POST'] },
  { pattern: new RegExp(`^/api/simulator/sessions/${segment}/incoming$`), methods: ['POST'] },
  { pattern: new RegExp(`^/api/simulator/sessions/${segment}/pair$`), methods: ['POST'] },
];

const isPublic = (c: Context<ApiEnv>) => c.req.path === '/api/health' && (c.req.method === 'GET' || c.req.method === 'HEAD');

export function createApp(deps: ApiDependencies): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const routes = deps.config.engine === 'simulator' ? [...knownRoutes, ...simulatorRoutesKnown] : knownRoutes;

  app.use('*', requestContext(deps.logger));
  app.use('*', apiKeyCheck(deps.config.apiKeyDigests, isPublic));

  app.get('/api/health', async (c) => {
    if (await deps.ping()) return c.json({ status: 'ok' });
    throw new ServiceError('SERVICE_UNAVAILABLE', 'Redis does not answer.');
  });

  // Everything past here needs Redis: answer 503 quickly when it is away instead of hanging.
  app.use('/api/*', async (c, next) => {
    if (routes.some((route) => route.pattern.test(c.req.path))) await deps.ready();
    return next();
  });

  app.route('/api/sessions', sessionRoutes(deps));
  app.route('/api/messages', messageRoutes(deps));
  if (deps.config.engine === 'simulator') app.route('/api/simulator', simulatorRoutes(deps));

  app.notFound((c) => {
    const route = routes.find((candidate) => candidate.pattern.test(c.req.path));
    if (route !== undefined) {
      return errorResponse(
        c,
        new ServiceError('METHOD_NOT_ALLOWED', `${c.req.method} is not allowed here; use ${route.methods.join(' or ')}.`, {
          details: { allow: route.methods },
        }),
      );
    }
    return errorResponse(c, new ServiceError('NOT_FOUND', `No route ${c.req.method} ${c.req.path}.`));
  });
  app.onError((error, c) => errorResponse(c, error));
  return app;
}
