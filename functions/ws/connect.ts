/**
 * `$connect`: checks the API key (query `apiKey`, since browsers cannot set headers, or the `x-api-key` header) and
 * registers the connection, subscribed to `sessionId` when the query names one. A wrong key refuses the handshake
 * with HTTP 401 (429 once the client's address presented too many: docs/api.md "Limits"). `batch=1` in the query
 * asks for events in `batch` frames. A tenant key's connection sees its own sessions only (lib/ws-connections.ts):
 * a `sessionId` it does not own refuses the handshake with 404, as for a session that does not exist.
 */
import { sessionIdSchema } from '../../contract/api.js';
import { ServiceError } from '../../contract/errors.js';
import { tenantOf, type Principal } from '../../lib/api-keys.js';
import { principalOf } from '../http/middleware.js';
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

const unauthorized: WebSocketResult = { statusCode: 401, body: JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'A valid apiKey is required.' } }) };

async function handle(event: ConnectEvent): Promise<WebSocketResult> {
  const { config, connections, logger, ready, api } = getRuntime();
  const connectionId = event.requestContext.connectionId;
  const log = logger.child({ connectionId, requestId: event.requestContext.requestId });
  const query = event.queryStringParameters ?? {};
  const presented = presentedKey(event);
  if (presented === undefined || presented === '') {
    log.info('refused a WebSocket connection without a valid key');
    return unauthorized;
  }
  let principal: Principal | undefined;
  try {
    if (api.apiKeys !== undefined || api.requestLimiter !== undefined) await ready();
    const address = sourceIpOf(event);
    await api.requestLimiter?.checkAddress(address);
    principal = await principalOf(presented, config.apiKeyDigests, api.apiKeys);
    if (principal === undefined) await api.requestLimiter?.failedKey(address);
    else await api.requestLimiter?.take(principal);
  } catch (error) {
    if (error instanceof ServiceError && error.code === 'RATE_LIMITED') {
      log.info('refused a WebSocket connection: a rate limit (wrong keys from its address, or its key\'s requests)');
      return { statusCode: 429, body: JSON.stringify({ error: error.toBody() }) };
    }
    log.error({ err: error }, 'could not check a key');
    return { statusCode: 503, body: JSON.stringify({ error: { code: 'SERVICE_UNAVAILABLE', message: 'Retry shortly.' } }) };
  }
  if (principal === undefined) {
    log.info('refused a WebSocket connection without a valid key');
    return unauthorized;
  }
  const tenant = tenantOf(principal);
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
    if (sessionId !== null && tenant !== null && !(await api.tenants?.visibleTo(principal, sessionId))) {
      return { statusCode: 404, body: JSON.stringify({ error: { code: 'SESSION_NOT_FOUND', message: `No session named '${sessionId}'.` } }) };
    }
    // `?batch=1`: events in `batch` frames (docs/api.md, "Batching").
    await connections.register(connectionId, sessionId, {
      batch: query.batch === '1' || query.batch === 'true',
      tenant,
      ...(principal.keyId.startsWith('key_') ? { keyId: principal.keyId } : {}),
    });
  } catch (error) {
    log.error({ err: error }, 'could not register a connection');
    return { statusCode: 503, body: JSON.stringify({ error: { code: 'SERVICE_UNAVAILABLE', message: 'Retry shortly.' } }) };
  }
  log.info({ sessionId }, 'WebSocket connected');
  return { statusCode: 200 };
}

/** The client's address as API Gateway saw it (never a header the client could set); `unknown` otherwise. */
function sourceIpOf(event: WebSocketEvent): string {
  const context = event.requestContext as { identity?: { sourceIp?: unknown } };
  const ip = context.identity?.sourceIp;
  return typeof ip === 'string' && /^[0-9A-Fa-f.:]{2,45}$/.test(ip) ? ip : 'unknown';
}

/** The Lambda entry: the handler above, measured (CloudWatch embedded metrics, functions/ws/metrics.ts). */
export const handler = withWsMetrics<ConnectEvent>(handle);
