/**
 * /api/messages/:sessionId/...: send (text, media, location, replies), history pages, chats, contacts, and what is
 * done to one message (download its media, react, edit, delete) or chat (mark read). Every route needs a
 * `connected` session.
 *
 * Media never travels through Redis: the function puts the bytes of a send in the blob store (decoded from `data`,
 * or fetched from `url` through the URL guard) and the command carries the key; a download asks the host to put the
 * message's media in the blob store and answers from there (a presigned redirect, or the bytes on the local stack).
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { OpenAPIHono } from '@hono/zod-openapi';
import { defaultMessagesLimit, type SendMessageBody } from '../../../contract/api.js';
import type { OutgoingContentCommand } from '../../../contract/commands.js';
import { MediaNotFoundError, ServiceError, SessionNotConnectedError } from '../../../contract/errors.js';
import { cleanFilename, contentDisposition } from '../../../lib/blob-store.js';
import { fetchMedia } from '../../../lib/media-fetch.js';
import type { ApiEnv } from '../api-env.js';
import { apiRoutes } from '../api-routes.js';
import { commandSession, findSession, liveOwner, type ApiDependencies, type MediaDependencies } from '../dependencies.js';
import { currentPrincipal } from '../../../lib/api-keys.js';
import { answerOf, type StoredResponse } from '../idempotency.js';
import { validationHook } from '../validation.js';
import { respondStored } from './shared.js';

/** How long an upload waits in the blob store for its send (the host removes it once sent). */
const uploadTtlMs = 3_600_000;
/** How long a presigned download URL works: the client follows the redirect at once. */
const downloadUrlSeconds = 300;

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

  const media = (): MediaDependencies => {
    if (deps.media === undefined) throw new ServiceError('INTERNAL', 'This deployment has no blob store for media.');
    return deps.media;
  };

  /** The content of a send as the command carries it: media goes to the blob store first. */
  const contentOf = async (sessionId: string, body: SendMessageBody): Promise<OutgoingContentCommand> => {
    if (body.location !== undefined) {
      const { latitude, longitude, name, address } = body.location;
      return { kind: 'location', location: { latitude, longitude, name: name ?? null, address: address ?? null } };
    }
    if (body.media === undefined) return { kind: 'text', text: body.text ?? '' };
    const { blobs, fetch } = media();
    // The session's own errors (404, 503, 409) come before a fetch on its behalf.
    await connectedTarget(sessionId);
    const fetched = body.media.url === undefined ? null : await fetchMedia(body.media.url, fetch);
    const bytes = fetched?.bytes ?? Buffer.from(body.media.data ?? '', 'base64');
    const filename = cleanFilename(body.media.filename ?? fetched?.filename ?? null);
    const blobKey = `uploads/${sessionId}/${randomUUID()}`;
    await blobs.put(blobKey, bytes, {
      contentType: body.media.mimetype,
      ...(filename === null ? {} : { filename }),
      expiresAt: new Date(Date.now() + uploadTtlMs),
    });
    return {
      kind: 'media',
      blobKey,
      mimetype: body.media.mimetype,
      filename,
      caption: body.media.caption ?? null,
      asVoice: body.media.asVoice ?? false,
    };
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
        const content = await contentOf(sessionId, body);
        // Lookup, liveness, status and push in one Redis round trip (route-command-2).
        const result = await commandSession(
          deps,
          sessionId,
          {
            type: 'send',
            chatId: body.chatId,
            content,
            ...(body.replyTo === undefined ? {} : { replyTo: body.replyTo }),
            ...(body.mentions === undefined ? {} : { mentions: body.mentions }),
            // Scoped per API key as the function's record is: another key's same Idempotency-Key is another send.
            ...(idempotencyKey === null ? {} : { idempotencyKey: `${currentPrincipal()?.keyId ?? '-'}:${idempotencyKey}` }),
          },
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
        {
          type: 'messages',
          chatId,
          limit: query.limit ?? defaultMessagesLimit,
          ...(query.before === undefined ? {} : { before: query.before }),
        },
        { traceId: c.get('requestId'), connected: true },
      );
      return c.json(result, 200);
    })
    .openapi(apiRoutes.markChatRead, async (c) => {
      const { sessionId, chatId } = c.req.valid('param');
      return c.json(await commandSession(deps, sessionId, { type: 'chat.read', chatId }, { traceId: c.get('requestId'), connected: true }), 200);
    })
    .openapi(apiRoutes.downloadMedia, async (c) => {
      const { sessionId, messageId } = c.req.valid('param');
      const { blobs } = media();
      const stored = await commandSession(deps, sessionId, { type: 'media.download', messageId }, { traceId: c.get('requestId'), connected: true });
      const signed = await blobs.signedUrl(stored.blobKey, { expiresInSeconds: downloadUrlSeconds });
      if (signed !== null) return c.redirect(signed, 302);
      const object = await blobs.get(stored.blobKey);
      if (object === null) throw new MediaNotFoundError(messageId, 'gone');
      // Served from the API's own origin (the dashboard's): never rendered there, whatever the sender claimed it is.
      return c.body(Readable.toWeb(object.stream) as ReadableStream, 200, {
        'content-type': object.contentType,
        'content-length': String(object.size),
        'content-disposition': contentDisposition(object.filename ?? stored.filename),
        'x-content-type-options': 'nosniff',
        'content-security-policy': "sandbox; default-src 'none'",
        'cache-control': 'private, no-store',
      });
    })
    .openapi(apiRoutes.reactToMessage, async (c) => {
      const { sessionId, messageId } = c.req.valid('param');
      const { emoji } = c.req.valid('json');
      return c.json(
        await commandSession(deps, sessionId, { type: 'message.react', messageId, emoji }, { traceId: c.get('requestId'), connected: true }),
        200,
      );
    })
    .openapi(apiRoutes.editMessage, async (c) => {
      const { sessionId, messageId } = c.req.valid('param');
      const { text } = c.req.valid('json');
      return c.json(
        await commandSession(deps, sessionId, { type: 'message.edit', messageId, text }, { traceId: c.get('requestId'), connected: true }),
        200,
      );
    })
    .openapi(apiRoutes.deleteMessage, async (c) => {
      const { sessionId, messageId } = c.req.valid('param');
      const everyone = c.req.valid('query').everyone === 'true';
      return c.json(
        await commandSession(deps, sessionId, { type: 'message.delete', messageId, everyone }, { traceId: c.get('requestId'), connected: true }),
        200,
      );
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
