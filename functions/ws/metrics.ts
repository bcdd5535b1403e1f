/**
 * CloudWatch embedded metrics from the WebSocket functions, the same kind the REST function writes (functions/http/
 * emf.ts): one line per invocation, `Requests` and `Latency` by `Route` (`ws:$connect`, `ws:resume`, …), `Method`
 * `WS` and `Status` (the status the handler answered API Gateway with). On where emf.ts says (`emfEnabled`).
 */
import { emfEnabled, emfLine } from '../http/emf.js';
import type { WebSocketEvent, WebSocketResult } from './websocket-event.js';

export type MetricsSink = ((line: string) => void) | null;

const defaultSink = (): MetricsSink => (emfEnabled() ? (line) => void process.stdout.write(`${line}\n`) : null);

/** The handler, measured: its answer is passed on as it is, whatever the sink does. */
export function withWsMetrics<E extends WebSocketEvent>(
  handler: (event: E) => Promise<WebSocketResult>,
  sink: MetricsSink = defaultSink(),
): (event: E) => Promise<WebSocketResult> {
  if (sink === null) return handler;
  return async (event) => {
    const started = performance.now();
    let status = 500;
    try {
      const result = await handler(event);
      status = result.statusCode;
      return result;
    } finally {
      const route = `ws:${event.requestContext.routeKey ?? '$default'}`;
      sink(emfLine({ route, method: 'WS', status, latencyMs: performance.now() - started }, []));
    }
  };
}
