/**
 * The paths the app serves and their methods, read off the route declarations the app registered (its OpenAPI
 * registry): the 405 table (`allow`), which requests need no key, and which take a JSON body. Nothing here is kept
 * by hand, so a route cannot be served without being in it.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';

export interface DeclaredPath {
  /** The OpenAPI path, `/api/sessions/{sessionId}`. */
  path: string;
  pattern: RegExp;
  /** Upper case, in the order the routes were declared. */
  methods: string[];
  /** Methods that need no API key (declared with `security: []`). */
  publicMethods: Set<string>;
  /** Methods whose route declares a request body. */
  bodyMethods: Set<string>;
  /** Methods whose body may be larger than the usual limit (`x-max-body-bytes` on the declared body). */
  bodyLimits: Map<string, number>;
}

export interface RouteTable {
  paths: DeclaredPath[];
  /** The declared path a request path falls under, whatever its method. */
  find(path: string): DeclaredPath | undefined;
}

/** Any app with route declarations (its registry does not depend on the app's types). */
type Declaring = Pick<OpenAPIHono, 'openAPIRegistry'>;

export function routeTableOf(app: Declaring): RouteTable {
  const byPath = new Map<string, DeclaredPath>();
  for (const definition of app.openAPIRegistry.definitions) {
    if (definition.type !== 'route') continue;
    const { route } = definition;
    let entry = byPath.get(route.path);
    if (entry === undefined) {
      entry = {
        path: route.path,
        pattern: patternOf(route.path),
        methods: [],
        publicMethods: new Set(),
        bodyMethods: new Set(),
        bodyLimits: new Map(),
      };
      byPath.set(route.path, entry);
    }
    const method = route.method.toUpperCase();
    if (!entry.methods.includes(method)) entry.methods.push(method);
    if (route.security !== undefined && route.security.length === 0) {
      entry.publicMethods.add(method);
      // Hono answers HEAD with the GET route.
      if (method === 'GET') entry.publicMethods.add('HEAD');
    }
    if (route.request?.body !== undefined) {
      entry.bodyMethods.add(method);
      const limit: unknown = (route.request.body as unknown as Record<string, unknown>)['x-max-body-bytes'];
      if (typeof limit === 'number') entry.bodyLimits.set(method, limit);
    }
  }
  const paths = [...byPath.values()];
  return { paths, find: (path) => paths.find((candidate) => candidate.pattern.test(path)) };
}

/** `/api/sessions/{sessionId}` → `^/api/sessions/[^/]+$`, as Hono matches `/api/sessions/:sessionId`. */
export function patternOf(openApiPath: string): RegExp {
  const source = openApiPath
    .split(/(\{[^}]+\})/)
    .map((part) => (/^\{[^}]+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

/** `/api/sessions/{sessionId}` → `/api/sessions/:sessionId` (Hono's spelling). */
export function honoPathOf(openApiPath: string): string {
  return openApiPath.replace(/\{([^}]+)\}/g, ':$1');
}
