/** /api/messages/:sessionId/...: send, chats, history, contacts. Every route needs a `connected` session. */
import { OpenAPIHono } from '@hono/zod-openapi';
import { defaultMessagesLimit } from '../../../contract/api.js';
import { SessionNotConnectedError } from '../../../contract/errors.js';
import type { ApiEnv } from '../api-env.js';
import { apiRoutes } from '../api-routes.js';
import { findSession, liveOwner, type ApiDependencies } from '../dependencies.js';
import { answerOf, type StoredResponse } from '../idempotency.js';
import { validationHook } from '../validation.js';
import { respondStored } from './shared.js';

export function messageRoutes(deps: ApiDependencies) {
  /**
   * The connected session and its host, or the contract's error. A session whose host is gone answers 503 at once
   * (its last recorded status says nothing about now).
   */
  const connectedTarget = async (sessionId: string) => {
    const entry = await findSession(deps, sessionId);
    const hostId = liveOwner(entry);
    if (entry.record.status !== 'connected') throw new SessionNotConnectedError(sessionId, entry.record.status);
    return { sessionId, hostId };
  };

  return new OpenAPIHono<ApiEnv>({ defaultHook: validationHook })
    .openapi(apiRoutes.sendMessage, async (c) => {
      const { sessionId } = c.req.valid('param');
      const body = c.req.valid('json');
      const idempotencyKey = c.req.valid('header')['idempotency-key'] ?? null;
      const send = async (): Promise<StoredResponse> => {
        const target = await connectedTarget(sessionId);
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
    })
    .openapi(apiRoutes.listChats, async (c) => {
      const target = await connectedTarget(c.req.valid('param').sessionId);
      return c.json(await deps.bus.request(target, { type: 'chats' }, deps.config.commandTimeoutMs, c.get('requestId')), 200);
    })
    .openapi(apiRoutes.getChatMessages, async (c) => {
      const { sessionId, chatId } = c.req.valid('param');
      const query = c.req.valid('query');
      const result = await deps.bus.request(
        await connectedTarget(sessionId),
        { type: 'messages', chatId, limit: query.limit ?? defaultMessagesLimit },
        deps.config.commandTimeoutMs,
        c.get('requestId'),
      );
      return c.json(result, 200);
    })
    .openapi(apiRoutes.listContacts, async (c) => {
      const target = await connectedTarget(c.req.valid('param').sessionId);
      return c.json(await deps.bus.request(target, { type: 'contacts' }, deps.config.commandTimeoutMs, c.get('requestId')), 200);
    })
    .openapi(apiRoutes.getContact, async (c) => {
      const { sessionId, contactId } = c.req.valid('param');
      const result = await deps.bus.request(
        await connectedTarget(sessionId),
        { type: 'contact', contactId },
        deps.config.commandTimeoutMs,
        c.get('requestId'),
      );
      return c.json(result, 200);
    });
}
