/**
 * `$connect`: checks the API key (query `apiKey`, since browsers cannot set headers, or the `x-api-key` header) and
 * registers the connection, subscribed to `sessionId` when the query names one. A wrong key refuses the handshake
 * with HTTP 401.
 */
import { sessionIdSchema } from '../../contract/api.js';
import { keyMatches } from '../http/middleware.js';
import { getRuntime } from '../runtime.js';
import { headerOf, type WebSocketEvent, type WebSocketResult } from './websocket-event.js';

export async function handler(event: WebSocketEvent): Promise<WebSocketResult> {
  const { config, connections, logger, ready } = getRuntime();
  const connectionId = event.requestContext.connectionId;
  const log = logger.child({ connectionId, requestId: event.requestContext.requestId });
  const query = event.queryStringParameters ?? {};
  const presented = query.apiKey ?? headerOf(event, 'x-api-key');
  if (config.apiKeyDigests.length === 0 || presented === undefined || !keyMatches(presented, config.apiKeyDigests)) {
    log.info('refused a WebSocket connection without a valid key');
    return { statusCode: 401, body: JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'A valid apiKey is required.' } }) };
  }
  let sessionId: string | null = null;
  if (query.sessionId !== undefined) {
    const parsed = sessionIdSchema.safeParse(query.sessionId);
    if (!parsed.success) {
      return {
        statusCode: 400,
        body: JSON.stringify({ error: { code: 'VALIDATION_FAILED', message: 'sessionId must be 1 to 64 letters, digits, "_" or "-".' } }),
      };
    }
    sessionId = parsed.data;
  }
  try {
    await ready();
    await connections.register(connectionId, sessionId);
  } catch (error) {
    log.error({ err: error }, 'could not register a connection');
    return { statusCode: 503, body: JSON.stringify({ error: { code: 'SERVICE_UNAVAILABLE', message: 'Retry shortly.' } }) };
  }
  log.info({ sessionId }, 'WebSocket connected');
  return { statusCode: 200 };
}
