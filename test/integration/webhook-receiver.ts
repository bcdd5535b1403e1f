/** A webhook receiver on 127.0.0.1 for tests: records every request, answers what the test says. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** What to answer request number `index` (0-based): a status, optionally with headers, or `hang` (never answer). */
export type Responder = (request: { index: number; body: string }) => number | { status: number; headers?: Record<string, string> } | 'hang';

export interface Receiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Bodies (parsed) of the requests answered 2xx, in arrival order. */
  delivered(): Array<{ id: string; event: string; sessionId: string }>;
  respond(responder: Responder): void;
  /** Stops listening and drops every open connection (the receiver is "down"). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(port = 0): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  let responder: Responder = () => 200;
  let server: Server;
  const listen = async (onPort: number) => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const answer = responder({ index: requests.length, body });
        if (answer === 'hang') {
          requests.push({ headers: request.headers, body, status: 0 });
          return;
        }
        const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : { headers: {}, ...answer };
        requests.push({ headers: request.headers, body, status });
        response.writeHead(status, headers).end(status >= 400 ? 'receiver says no' : '');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(onPort, '127.0.0.1', () => resolve());
    });
    return (server.address() as AddressInfo).port;
  };
  const boundPort = await listen(port);
  const down = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://127.0.0.1:${boundPort}/hook`,
    port: boundPort,
    requests,
    delivered: () =>
      requests
        .filter((request) => request.status >= 200 && request.status < 300)
        .map((request) => JSON.parse(request.body) as { id: string; event: string; sessionId: string }),
    respond: (next) => {
      responder = next;
    },
    down,
    up: async () => {
      await listen(boundPort);
    },
    close: down,
  };
}

/** The distinct event ids in first-arrival order, and whether they came in order with no gap against `expected`. */
export function inOrderWithoutGap(received: string[], expected: string[]): boolean {
  const firstSeen: string[] = [];
  for (const id of received) if (!firstSeen.includes(id)) firstSeen.push(id);
  return JSON.stringify(firstSeen) === JSON.stringify(expected);
}
