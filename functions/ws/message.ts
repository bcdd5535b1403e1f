/**
 * Every message a client sends (`subscribe`, `unsubscribe`, `resume`, `ping`, and anything else via `$default`).
 * Answers go back with PostToConnection: what a WebSocket handler returns is not sent to the client. Every `error`
 * frame names the action it answers and the session that action was about (contract/ws-frames.ts).
 */
import { randomUUID } from 'node:crypto';
import type { CommandResult } from '../../contract/commands.js';
import { clientActionSchema, type ClientAction } from '../../contract/events.js';
import { describeIssues, sessionIdSchema } from '../../contract/api.js';
import { ServiceError } from '../../contract/errors.js';
import {
  clientActionNames,
  type ClientActionName,
  type ControlFrame,
  type ErrorFrame,
  type WsErrorCode,
} from '../../contract/ws-frames.js';
import type { Logger } from '../../lib/logger.js';
import { getRuntime, type FunctionsRuntime } from '../runtime.js';
import type { WebSocketEvent, WebSocketResult } from './websocket-event.js';
import { withWsMetrics } from './metrics.js';

/** Far below API Gateway's 128 KB: no action of the contract is anywhere near this. */
const maxActionBytes = 16 * 1024;

/** What an error frame can say about the message it answers, as far as the message could be read. */
interface Subject {
  action?: ClientActionName;
  sessionId?: string;
}

async function handle(event: WebSocketEvent): Promise<WebSocketResult> {
  const runtime = getRuntime();
  const connectionId = event.requestContext.connectionId;
  const requestId = event.requestContext.requestId ?? randomUUID();
  const log = runtime.logger.child({ connectionId, requestId });
  const reply = async (frame: ControlFrame) => {
    const outcome = await runtime.poster.post(connectionId, JSON.stringify(frame));
    if (outcome === 'gone') await runtime.connections.remove(connectionId).catch(() => undefined);
    else if (outcome !== 'sent') log.warn({ outcome }, 'could not answer a client');
  };
  let subject: Subject = {};
  const fail = (code: WsErrorCode, message: string) => {
    const frame: ErrorFrame = { event: 'error', ...subject, data: { code, message } };
    return reply(frame);
  };

  try {
    const parsed = parseAction(event);
    subject = parsed.subject;
    if ('error' in parsed) {
      await fail(parsed.error.code, parsed.error.message);
      return { statusCode: 200 };
    }
    await runtime.ready();
    // A tenant key's WebSocket actions count against its request rate, as its REST requests do (docs/api.md "Limits").
    const tenant = await runtime.connections.tenantOf(connectionId);
    if (typeof tenant === 'string') await runtime.api.requestLimiter?.take({ keyId: tenant, scope: 'tenant' });
    await run(parsed.action, runtime, connectionId, requestId, log, reply);
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
  reply: (frame: ControlFrame) => Promise<void>,
): Promise<void> {
  switch (action.action) {
    case 'ping':
      await reply({ event: 'pong' });
      return;
    case 'subscribe':
      await assertConnectionSees(runtime, connectionId, action.sessionId);
      if (!(await runtime.connections.subscribe(connectionId, action.sessionId))) throw unknownConnection();
      await reply({ event: 'subscribed', sessionId: action.sessionId });
      return;
    case 'unsubscribe':
      if (!(await runtime.connections.unsubscribe(connectionId, action.sessionId))) throw unknownConnection();
      await reply({ event: 'unsubscribed', sessionId: action.sessionId });
      return;
    case 'resume': {
      // The host that owns the session replays from its log, in the same queue as its live events for this
      // connection (that keeps the seam free of gaps and duplicates), and answers the client itself: `resumed` when
      // the replay is done, or an error frame. Its reply here only says the replay is queued, so a replay longer
      // than the command deadline is not an error; TIMEOUT now means the host did not take the resume at all.
      await assertConnectionSees(runtime, connectionId, action.sessionId);
      const entry = await runtime.directory.get(action.sessionId);
      if (entry === null) throw new ServiceError('SESSION_NOT_FOUND', `No session named '${action.sessionId}'.`);
      // A resume makes a filtered connection follow the session: it counts against the subscription cap.
      await runtime.connections.assertMayFollow(connectionId, action.sessionId);
      if (entry.ownerHostId === null) {
        throw new ServiceError('SESSION_HOST_UNAVAILABLE', `No session host answers for session '${action.sessionId}' right now.`);
      }
      let outcome: CommandResult<'ws.resume'>;
      try {
        outcome = await runtime.bus.request(
          { hostId: entry.ownerHostId, sessionId: action.sessionId },
          { type: 'ws.resume', connectionId, after: action.after },
          runtime.config.commandTimeoutMs,
          requestId,
        );
      } catch (error) {
        if (error instanceof ServiceError && error.code === 'TIMEOUT') {
          throw new ServiceError('TIMEOUT', `The session host did not take the resume within ${runtime.config.commandTimeoutMs} ms; nothing was replayed. Send it again.`);
        }
        throw error;
      }
      if ('replayed' in outcome) {
        // A host of an earlier version replayed before answering: say it is done on its behalf.
        await reply({ event: 'resumed', sessionId: action.sessionId, replayed: outcome.replayed, expired: outcome.expired });
      }
      log.info({ sessionId: action.sessionId, ...outcome }, 'resume handed to the session host');
      return;
    }
  }
}

type Parsed = { subject: Subject } & ({ action: ClientAction } | { error: { code: WsErrorCode; message: string } });

function parseAction(event: WebSocketEvent): Parsed {
  const raw = event.isBase64Encoded === true ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
  if (Buffer.byteLength(raw) > maxActionBytes) {
    return { subject: {}, error: { code: 'PAYLOAD_TOO_LARGE', message: `A client message may be at most ${maxActionBytes} bytes.` } };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { subject: {}, error: { code: 'VALIDATION_FAILED', message: 'A client message must be a JSON object with an "action".' } };
  }
  const fields: Record<string, unknown> = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const actionName = clientActionNames.find((name) => name === fields.action);
  if (actionName === undefined) {
    return { subject: {}, error: { code: 'UNKNOWN_ACTION', message: `"action" must be one of ${clientActionNames.join(', ')}.` } };
  }
  // The session the action names, when it is a well-formed id: the error frame then says which session it is about.
  const sessionId = sessionIdSchema.safeParse(fields.sessionId);
  const subject: Subject = { action: actionName, ...(sessionId.success ? { sessionId: sessionId.data } : {}) };
  const action = clientActionSchema.safeParse(parsed);
  if (!action.success) {
    const issues = describeIssues(action.error);
    return { subject, error: { code: 'VALIDATION_FAILED', message: issues.map((field) => `${field.path} ${field.message}`).join('; ') } };
  }
  return { subject, action: action.data };
}

/**
 * A tenant key's connection may follow, subscribe to and resume its own sessions only: another tenant's session (or
 * an administrator's) answers SESSION_NOT_FOUND, as a session that does not exist.
 */
async function assertConnectionSees(runtime: FunctionsRuntime, connectionId: string, sessionId: string): Promise<void> {
  const tenant = await runtime.connections.tenantOf(connectionId);
  if (tenant === undefined) throw unknownConnection();
  if (tenant === null) return;
  if (!(await runtime.api.tenants?.visibleTo({ keyId: tenant, scope: 'tenant' }, sessionId))) {
    throw new ServiceError('SESSION_NOT_FOUND', `No session named '${sessionId}'.`);
  }
}

function unknownConnection(): ServiceError {
  return new ServiceError('NOT_FOUND', 'This connection is not registered (it may have expired); reconnect.');
}

/** The Lambda entry: the handler above, measured (CloudWatch embedded metrics, functions/ws/metrics.ts). */
export const handler = withWsMetrics<WebSocketEvent>(handle);
