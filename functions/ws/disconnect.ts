/** `$disconnect`: forgets the connection and its subscriptions. */
import { getRuntime } from '../runtime.js';
import type { WebSocketEvent, WebSocketResult } from './websocket-event.js';
import { withWsMetrics } from './metrics.js';

async function handle(event: WebSocketEvent): Promise<WebSocketResult> {
  const { connections, logger, ready } = getRuntime();
  const connectionId = event.requestContext.connectionId;
  try {
    await ready();
    await connections.remove(connectionId);
    logger.info({ connectionId }, 'WebSocket disconnected');
  } catch (error) {
    // The record expires by itself after two hours; a gone connection is also removed at its first failed post.
    logger.warn({ err: error, connectionId }, 'could not remove a connection');
  }
  return { statusCode: 200 };
}

/** The Lambda entry: the handler above, measured (CloudWatch embedded metrics, functions/ws/metrics.ts). */
export const handler = withWsMetrics<WebSocketEvent>(handle);
