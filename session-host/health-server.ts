/**
 * A tiny HTTP health endpoint for the container's HEALTHCHECK and the orchestrator: 200 while this host reaches
 * Redis and its heartbeat is fresh, 503 otherwise. Off unless HEALTH_PORT is set. `GET /metrics` on the same port:
 * the host's Prometheus metrics (metrics.ts).
 */
import { createServer, type Server } from 'node:http';

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

export async function startHealthServer(port: number, host: string, probe: HealthProbe, metrics?: MetricsSource): Promise<Server> {
  const server = createServer((request, response) => {
    const pathname = (request.url ?? '').split('?')[0];
    if (metrics !== undefined && pathname === '/metrics' && (request.method === 'GET' || request.method === 'HEAD')) {
      metrics.render().then(
        (body) => response.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }).end(request.method === 'HEAD' ? undefined : body),
        (error: unknown) =>
          response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics failed: ${error instanceof Error ? error.message : String(error)}\n`),
      );
      return;
    }
    if (request.url !== '/health' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end('{"status":"not found"}');
      return;
    }
    const problem = probe.problem();
    const body = JSON.stringify({ status: problem === null ? 'ok' : 'unhealthy', problem, ...probe.details() });
    response.writeHead(problem === null ? 200 : 503, { 'content-type': 'application/json; charset=utf-8' }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
