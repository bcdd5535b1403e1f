/**
 * A tiny HTTP health endpoint for the container's HEALTHCHECK and the orchestrator: 200 while this host reaches
 * Redis and its heartbeat is fresh, 503 otherwise. Off unless HEALTH_PORT is set.
 */
import { createServer, type Server } from 'node:http';

export interface HealthProbe {
  /** Null when healthy, else why not. */
  problem(): string | null;
  details(): Record<string, unknown>;
}

export async function startHealthServer(port: number, host: string, probe: HealthProbe): Promise<Server> {
  const server = createServer((request, response) => {
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
