/**
 * Every message a client sends (`subscribe`, `unsubscribe`, `resume`, `ping`, and anything else via `$default`).
 * Answers go back with PostToConnection: what a WebSocket handler returns is not sent to the client.
 */
import { randomUUID } from 'node:crypto';
import { clientActionSchema, type ClientAction } from '../../contract/events.js';
import { describeIssues } from '../../contract/api.js';
import { ServiceError } from '../../contract/errors.js';
import type { Logger } from '../../lib/logger.js';
import { getRuntime, type FunctionsRuntime } from '../runtime.js';
import type { WebSocketEvent, WebSocketResult } from './websocket-event.js';

/** Far below API Gateway's 128 KB: no action of the contract is anywhere near this. */
const maxActionBytes = 16 * 1024;

export async function handler(event: WebSocketEvent): Promise<WebSocketResult> {
  const runtime = getRuntime();
  const connectionId = event.requestContext.connectionId;
  const requestId = event.requestContext.requestId ?? randomUUID();
  const log = runtime.logger.child({ connectionId, requestId });
  const reply = async (frame: unknown) => {
    const outcome = await runtime.poster.post(connectionId, JSON.stringify(frame));
    if (outcome === 'gone') await runtime.connections.remove(connectionId).catch(() => undefined);
    else if (outcome !== 'sent') log.warn({ outcome }, 'could not answer a client');
  };
  const fail = (code: string, message: string) => reply({ event: 'error', data: { code, message } });

  try {
    const action = parseAction(event);
    if ('error' in action) {
      await fail(action.error.code, action.error.message);
      return { statusCode: 200 };
    }
    await runtime.ready();
    await run(action.action, runtime, connectionId, requestId, log, reply);
  } catch (error) {
    if (error instanceof ServiceError) {
      await fail(error.code, error.message);
    } else {
      log.error({ err: error }, 'a WebSocket action failed');
      await fail('INTERNAL', `Something went wrong on our side (request ${requestId}).`);
    }
  }
  return { statusCode: 200 };
}

async function run(
  action: ClientAction,
  runtime: FunctionsRuntime,
  connectionId: string,
  requestId: string,
  log: Logger,
  reply: (frame: unknown) => Promise<void>,
): Promise<void> {
  switch (action.action) {
    case 'ping':
      await reply({ event: 'pong' });
      return;
    case 'subscribe':
      if (!(await runtime.connections.subscribe(connectionId, action.sessionId))) throw unknownConnection();
      await reply({ event: 'subscribed', sessionId: action.sessionId });
      return;
    case 'unsubscribe':
      if (!(await runtime.connections.unsubscribe(connectionId, action.sessionId))) throw unknownConnection();
      await reply({ event: 'unsubscribed', sessionId: action.sessionId });
      return;
    case 'resume': {
      // The host that owns the session replays from its log, in the same queue as its live events for this
      // connection: that is what keeps the seam free of gaps and duplicates.
      const entry = await runtime.directory.get(action.sessionId);
      if (entry === null) throw new ServiceError('SESSION_NOT_FOUND', `No session named '${action.sessionId}'.`);
      if (entry.ownerHostId === null) {
        throw new ServiceError('SESSION_HOST_UNAVAILABLE', `No session host answers for session '${action.sessionId}' right now.`);
      }
      const outcome = await runtime.bus.request(
        { hostId: entry.ownerHostId, sessionId: action.sessionId },
        { type: 'ws.resume', connectionId, after: action.after },
        runtime.config.commandTimeoutMs,
        requestId,
      );
      log.info({ sessionId: action.sessionId, ...outcome }, 'resumed');
      return;
    }
  }
}

function parseAction(event: WebSocketEvent): { action: ClientAction } | { error: { code: string; message: string } } {
  const raw = event.isBase64Encoded === true ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
  if (Buffer.byteLength(raw) > maxActionBytes) {
    return { error: { code: 'PAYLOAD_TOO_LARGE', message: `A client message may be at most ${maxActionBytes} bytes.` } };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { error: { code: 'VALIDATION_FAILED', message: 'A client message must be a JSON object with an "action".' } };
  }
  const known = ['subscribe', 'unsubscribe', 'resume', 'ping'];
  const actionName = typeof parsed === 'object' && parsed !== null && 'action' in parsed ? parsed.action : undefined;
  if (typeof actionName !== 'string' || !known.includes(actionName)) {
    return { error: { code: 'UNKNOWN_ACTION', message: `"action" must be one of ${known.join(', ')}.` } };
  }
  const action = clientActionSchema.safeParse(parsed);
  if (!action.success) {
    const fields = describeIssues(action.error);
    return { error: { code: 'VALIDATION_FAILED', message: fields.map((field) => `${field.path} ${field.message}`).join('; ') } };
  }
  return { action: action.data };
}

function unknownConnection(): ServiceError {
  return new ServiceError('NOT_FOUND', 'This connection is not registered (it may have expired); reconnect.');
}
