/** /api/messages/:sessionId/...: send, chats, history, contacts. Every route needs a `connected` session. */
import { Hono, type Context } from 'hono';
import {
  chatIdSchema,
  defaultMessagesLimit,
  messagesQuerySchema,
  parseOrThrow,
  sendMessageBodySchema,
  sessionIdSchema,
} from '../../../contract/api.js';
import { SessionNotConnectedError } from '../../../contract/errors.js';
import type { ApiEnv } from '../api-env.js';
import { findSession, liveOwner, type ApiDependencies } from '../dependencies.js';
import { answerOf, type StoredResponse } from '../idempotency.js';
import { readJsonBody } from '../middleware.js';
import { idempotencyKeyOf, respondStored } from './shared.js';

export function messageRoutes(deps: ApiDependencies): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();

  /**
   * The connected session named in the path and its host, or the contract's error. A session whose host is gone
   * answers 503 at once (its last recorded status says nothing about now).
   */
  const connectedTarget = async (c: Context<ApiEnv>) => {
    const sessionId = parseOrThrow(sessionIdSchema, c.req.param('sessionId'), 'sessionId');
    const entry = await findSession(deps, sessionId);
    const hostId = liveOwner(entry);
    if (entry.record.status !== 'connected') throw new SessionNotConnectedError(sessionId, entry.record.status);
    return { sessionId, hostId };
  };

  app.post('/:sessionId/send', async (c) => {
    const sessionId = parseOrThrow(sessionIdSchema, c.req.param('sessionId'), 'sessionId');
    const body = parseOrThrow(sendMessageBodySchema, await readJsonBody(c));
    const idempotencyKey = idempotencyKeyOf(c);
    const send = async (): Promise<StoredResponse> => {
      const target = await connectedTarget(c);
      await deps.sendRateLimiter.take(sessionId);
      const result = await deps.bus.request(
        target,
        idempotencyKey === null
          ? { type: 'send', chatId: body.chatId, text: body.text }
          : { type: 'send', chatId: body.chatId, text: body.text, idempotencyKey },
        deps.config.commandTimeoutMs,
        c.get('requestId'),
      );
      return { status: 201, body: result };
    };
    if (idempotencyKey === null) return respondStored(c, await send());
    return respondStored(
      c,
      await deps.idempotency.run(`send:${sessionId}`, idempotencyKey, body, () => answerOf(send), deps.config.commandTimeoutMs),
    );
  });

  app.get('/:sessionId/chats', async (c) => {
    const result = await deps.bus.request(await connectedTarget(c), { type: 'chats' }, deps.config.commandTimeoutMs, c.get('requestId'));
    return c.json(result);
  });

  app.get('/:sessionId/chat/:chatId', async (c) => {
    parseOrThrow(sessionIdSchema, c.req.param('sessionId'), 'sessionId');
    const chatId = parseOrThrow(chatIdSchema, c.req.param('chatId'), 'chatId');
    const query = parseOrThrow(messagesQuerySchema, c.req.query(), 'query');
    const result = await deps.bus.request(
      await connectedTarget(c),
      { type: 'messages', chatId, limit: query.limit ?? defaultMessagesLimit },
      deps.config.commandTimeoutMs,
      c.get('requestId'),
    );
    return c.json(result);
  });

  app.get('/:sessionId/contacts', async (c) => {
    const result = await deps.bus.request(await connectedTarget(c), { type: 'contacts' }, deps.config.commandTimeoutMs, c.get('requestId'));
    return c.json(result);
  });

  app.get('/:sessionId/contacts/:contactId', async (c) => {
    parseOrThrow(sessionIdSchema, c.req.param('sessionId'), 'sessionId');
    const contactId = parseOrThrow(chatIdSchema, c.req.param('contactId'), 'contactId');
    const result = await deps.bus.request(
      await connectedTarget(c),
      { type: 'contact', contactId },
      deps.config.commandTimeoutMs,
      c.get('requestId'),
    );
    return c.json(result);
  });

  return app;
}
