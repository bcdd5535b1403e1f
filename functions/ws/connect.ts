/**
 * `$connect`: checks the API key (query `apiKey`, since browsers cannot set headers, or the `x-api-key` header) and
 * registers the connection, subscribed to `sessionId` when the query names one. A wrong key refuses the handshake
 * with HTTP 401. `batch=1` in the query asks for events in `batch` frames.
 */
import { sessionIdSchema } from '../../contract/api.js';
import { keyMatches } from '../http/middleware.js';
import { getRuntime } from '../runtime.js';
import { headerOf, type WebSocketEvent, type WebSocketResult } from './websocket-event.js';
import { withWsMetrics } from './metrics.js';

/** `$connect` events also list every value of a repeated query parameter or header (API Gateway and serverless offline). */
export type ConnectEvent = WebSocketEvent & {
  multiValueQueryStringParameters?: Record<string, string[] | undefined> | null;
  multiValueHeaders?: Record<string, string[] | undefined> | null;
};

/**
 * The one key a `$connect` presents, or undefined when it presents none or more than one: `apiKey` twice in the query,
 * `x-api-key` twice (or joined with ","), or a query key and a header key that differ. A request never passes on
 * one of two keys.
 */
export function presentedKey(event: ConnectEvent): string | undefined {
  const fromQuery = event.multiValueQueryStringParameters?.apiKey ?? (event.queryStringParameters?.apiKey === undefined ? [] : [event.queryStringParameters.apiKey]);
  let fromHeaders: string[] = [];
  for (const [name, values] of Object.entries(event.multiValueHeaders ?? {})) {
    if (name.toLowerCase() === 'x-api-key' && values !== undefined) fromHeaders = [...fromHeaders, ...values];
  }
  const single = headerOf(event, 'x-api-key');
  if (fromHeaders.length === 0 && single !== undefined) fromHeaders = [single];
  if (fromQuery.length > 1 || fromHeaders.length > 1) return undefined;
  const values = [...fromQuery, ...fromHeaders];
  if (values.length === 0 || values.some((value) => value.includes(','))) return undefined;
  return values.every((value) => value === values[0]) ? values[0] : undefined;
}

async function handle(event: ConnectEvent): Promise<WebSocketResult> {
  const { config, connections, logger, ready } = getRuntime();
  const connectionId = event.requestContext.connectionId;
  const log = logger.child({ connectionId, requestId: event.requestContext.requestId });
  const query = event.queryStringParameters ?? {};
  const presented = presentedKey(event);
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
    // `?batch=1`: events in `batch` frames (docs/api.md, "Batching").
    await connections.register(connectionId, sessionId, { batch: query.batch === '1' || query.batch === 'true' });
  } catch (error) {
    log.error({ err: error }, 'could not register a connection');
    return { statusCode: 503, body: JSON.stringify({ error: { code: 'SERVICE_UNAVAILABLE', message: 'Retry shortly.' } }) };
  }
  log.info({ sessionId }, 'WebSocket connected');
  return { statusCode: 200 };
}

/** The Lambda entry: the handler above, measured (CloudWatch embedded metrics, functions/ws/metrics.ts). */
export const handler = withWsMetrics<ConnectEvent>(handle);
