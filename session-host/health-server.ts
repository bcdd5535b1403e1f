/**
 * A tiny HTTP health endpoint for the container's HEALTHCHECK and the orchestrator: 200 while this host reaches
 * Redis and its heartbeat is fresh, 503 otherwise. Off unless HEALTH_PORT is set. `GET /metrics` on the same port:
 * the host's Prometheus metrics (metrics.ts).
 *
 * To anyone, `/health` says only `{"status":"ok"}` (200) or `{"status":"unhealthy"}` (503): the host id, engine, session
 * count and the problem only with HEALTH_DETAILS=true (a port only the operator's network reaches) or the header
 * `x-health-token: HEALTH_TOKEN`. Once HEALTH_TOKEN is set, `/metrics` asks for it too.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { healthAccessOf, type HealthAccess } from './config.js';

export interface HealthProbe {
  /** Null when healthy, else why not. */
  problem(): string | null;
  details(): Record<string, unknown>;
}

/** The Prometheus text exposition of the host's metrics. */
export interface MetricsSource {
  contentType: string;
  render(): Promise<string>;
}

/** Whether `request` carries the configured token (constant time); false when none is configured. */
function carriesToken(request: IncomingMessage, token: string | undefined): boolean {
  const given = request.headers['x-health-token'];
  if (token === undefined || typeof given !== 'string') return false;
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(token));
}

export async function startHealthServer(
  port: number,
  host: string,
  probe: HealthProbe,
  metrics?: MetricsSource,
  access: HealthAccess = healthAccessOf(),
): Promise<Server> {
  const server = createServer((request, response) => {
    const pathname = (request.url ?? '').split('?')[0];
    const privileged = access.details || carriesToken(request, access.token);
    if (metrics !== undefined && pathname === '/metrics' && (request.method === 'GET' || request.method === 'HEAD')) {
      if (access.token !== undefined && !privileged) {
        response.writeHead(401, { 'content-type': 'application/json; charset=utf-8' }).end('{"status":"unauthorized"}');
        return;
      }
      metrics.render().then(
        (body) => response.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }).end(request.method === 'HEAD' ? undefined : body),
        (error: unknown) =>
          response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics failed: ${error instanceof Error ? error.message : String(error)}\n`),
      );
      return;
    }
    if (pathname !== '/health' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end('{"status":"not found"}');
      return;
    }
    const problem = probe.problem();
    const status = problem === null ? 'ok' : 'unhealthy';
    const body = JSON.stringify(privileged ? { status, problem, ...probe.details() } : { status });
    response.writeHead(problem === null ? 200 : 503, { 'content-type': 'application/json; charset=utf-8' }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
