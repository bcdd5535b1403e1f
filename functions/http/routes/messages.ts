/** /api/messages/:sessionId/...: send, chats, history, contacts. Every route needs a `connected` session. */
import { OpenAPIHono } from '@hono/zod-openapi';
import { defaultMessagesLimit } from '../../../contract/api.js';
import { SessionNotConnectedError } from '../../../contract/errors.js';
import type { ApiEnv } from '../api-env.js';
import { apiRoutes } from '../api-routes.js';
import { commandSession, findSession, liveOwner, type ApiDependencies } from '../dependencies.js';
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
        try {
          await deps.sendRateLimiter.take(sessionId);
        } catch (error) {
          // Over the limit: the session's own errors (404, 503, 409) still come first, as they did before.
          await connectedTarget(sessionId);
          throw error;
        }
        // Lookup, liveness, status and push in one Redis round trip (route-command-2).
        const result = await commandSession(
          deps,
          sessionId,
          idempotencyKey === null
            ? { type: 'send', chatId: body.chatId, content: { kind: 'text', text: body.text ?? '' } }
            : { type: 'send', chatId: body.chatId, content: { kind: 'text', text: body.text ?? '' }, idempotencyKey },
          { traceId: c.get('requestId'), connected: true },
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
      const { sessionId } = c.req.valid('param');
      return c.json(await commandSession(deps, sessionId, { type: 'chats' }, { traceId: c.get('requestId'), connected: true }), 200);
    })
    .openapi(apiRoutes.getChatMessages, async (c) => {
      const { sessionId, chatId } = c.req.valid('param');
      const query = c.req.valid('query');
      const result = await commandSession(
        deps,
        sessionId,
        { type: 'messages', chatId, limit: query.limit ?? defaultMessagesLimit },
        { traceId: c.get('requestId'), connected: true },
      );
      return c.json(result, 200);
    })
    .openapi(apiRoutes.listContacts, async (c) => {
      const { sessionId } = c.req.valid('param');
      return c.json(await commandSession(deps, sessionId, { type: 'contacts' }, { traceId: c.get('requestId'), connected: true }), 200);
    })
    .openapi(apiRoutes.getContact, async (c) => {
      const { sessionId, contactId } = c.req.valid('param');
      const result = await commandSession(deps, sessionId, { type: 'contact', contactId }, { traceId: c.get('requestId'), connected: true });
      return c.json(result, 200);
    });
}
