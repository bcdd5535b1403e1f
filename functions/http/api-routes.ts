/**
 * Every REST route, declared once: method, path, the zod schemas of its path, query, headers and body, and what it
 * answers (success and each error status of the contract). From these come request validation (validation.ts), the
 * OpenAPI document (openapi.ts), the 405 table and public routes (route-table.ts) and the tests' typed client
 * (test/support/typed-api.ts). A handler is registered with `app.openapi(apiRoutes.x, ...)`: a route with no
 * declaration cannot be served, so none can be missing from the document or the 405 table.
 */
import { createRoute, z } from '@hono/zod-openapi';
import {
  chatSchema,
  contactSchema,
  createSessionBodySchema,
  chatIdSchema,
  deleteMessageQuerySchema,
  editMessageBodySchema,
  emptyBodySchema,
  maxBodyBytes,
  maxSendBodyBytes,
  messageIdSchema,
  messageSchema,
  messagesQuerySchema,
  reactionBodySchema,
  pairingCodeBodySchema,
  sendMessageBodySchema,
  sessionIdSchema,
  sessionSchema,
  sessionsQuerySchema,
  simulatorIncomingBodySchema,
  simulatorPairBodySchema,
  simulatorScanBodySchema,
} from '../../contract/api.js';
import { httpStatusOf, type ErrorBody, type ErrorCode } from '../../contract/errors.js';
import { simulatorControls } from '../../contract/simulator.js';
import {
  createdWebhookResponseSchema,
  createWebhookBodySchema,
  deliveriesQuerySchema,
  deliveriesResponseSchema,
  replayResponseSchema,
  replayWebhookBodySchema,
  webhookIdSchema,
  webhookResponseSchema,
  webhooksResponseSchema,
} from '../../contract/webhooks.js';
import { keyRouteDeclarations } from './api-routes-keys.js';
import { docsPaths } from './docs/docs-paths.js';
import { idempotencyKeyPattern } from './idempotency.js';

// ---------------------------------------------------------------------------------------------------------------
// Parts shared by several routes

const sessionIdParam = sessionIdSchema.meta({ description: 'The session: 1 to 64 letters, digits, `_` or `-`.', example: 'alice' });
const chatIdParam = chatIdSchema.meta({
  description: 'A WhatsApp id (`…@c.us`, `…@g.us`, `…@lid`) or a phone number in any common spelling (percent-encoded).',
  example: '15551234567@c.us',
});

const sessionParams = z.object({ sessionId: sessionIdParam });
const messageParams = z.object({
  sessionId: sessionIdParam,
  messageId: messageIdSchema.meta({
    description: "WhatsApp's serialized message id, percent-encoded (`@` is `%40`).",
    example: 'true_15551234567%40c.us_3EB0C0FFEE',
  }),
});
const emptyResult = z.object({}).meta({ description: 'Nothing to say: `{}`.' });

/** What the docs page offers to try for a send (one content field each). */
const sendExamples = {
  text: { summary: 'A text', value: { chatId: '15551234567', text: 'Hello from the gateway' } },
  imageByData: {
    summary: 'An image, inline (base64)',
    value: {
      chatId: '15551234567',
      media: {
        data: 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
        mimetype: 'image/png',
        caption: 'one pixel',
      },
    },
  },
  documentByUrl: {
    summary: 'A document the service fetches',
    value: { chatId: '15551234567', media: { url: 'https://example.com/report.pdf', mimetype: 'application/pdf', filename: 'report.pdf' } },
  },
  location: { summary: 'A location', value: { chatId: '15551234567', location: { latitude: 52.5163, longitude: 13.3777, name: 'Brandenburg Gate' } } },
  reply: { summary: 'A reply quoting a message', value: { chatId: '15551234567', text: 'Yes!', replyTo: 'false_15551234567@c.us_3EB0C0FFEE' } },
};
const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(idempotencyKeyPattern, 'must be 1 to 128 letters, digits, "_", "-", "." or ":"')
    .optional()
    .meta({
      description:
        'Makes the request safe to retry: the same key with the same body answers the first response again and runs once; with another body, 422 `IDEMPOTENCY_KEY_REUSED`. Remembered `IDEMPOTENCY_TTL_SECONDS` (24 h).',
      example: 'order-42',
    }),
});

const sessionEnvelope = z.object({ session: sessionSchema });
const webhookParams = z.object({ webhookId: webhookIdSchema.meta({ description: 'The webhook: `wh_…` as created.', example: 'wh_3f9a1c2b7d4e' }) });

function json<S extends z.ZodType>(description: string, schema: S) {
  return { description, content: { 'application/json': { schema } } };
}

/** A JSON request body; `required` when the route has a required field (an empty body reads as `{}` anyway). */
function jsonBody<S extends z.ZodType>(schema: S, required: boolean, description?: string) {
  return { required, ...(description === undefined ? {} : { description }), content: { 'application/json': { schema } } };
}

// ---------------------------------------------------------------------------------------------------------------
// Error answers: the contract's envelope, one response per status, listing the codes a route can answer with it

const whenByCode: Record<ErrorCode, string> = {
  VALIDATION_FAILED: 'the body, path, query or a header does not match; `details.fields` names each field and why',
  UNAUTHORIZED: 'no or wrong `x-api-key`',
  FORBIDDEN: 'only administrator keys may do this',
  SESSION_NOT_FOUND: 'no such session',
  NOT_FOUND: 'no such route',
  METHOD_NOT_ALLOWED: 'a known path with another method; `allow` lists the methods',
  SESSION_EXISTS: 'a session with this id exists already',
  LIMIT_REACHED: 'a cap of docs/api.md "Limits" is reached (sessions per key, every session host full, keys); `details.limit` is the cap, `details.cap` names it',
  SESSION_NOT_CONNECTED: 'the session is not `connected`; `details.status` says where it is',
  QR_NOT_AVAILABLE: 'the session is not in `qr`; `details.status` says where it is',
  PHONE_IN_USE: 'the number belongs to another simulated session',
  PAIRING_CODE_MISMATCH: 'not the code the session showed (or none was asked)',
  CONTACT_NOT_FOUND: 'WhatsApp knows nothing of that id',
  WEBHOOK_NOT_FOUND: 'no webhook with this id',
  MESSAGE_NOT_FOUND: 'the session knows no message with this id (in this chat)',
  MEDIA_NOT_FOUND: 'the message carries no media, or WhatsApp no longer has it',
  MESSAGE_NOT_EDITABLE: "only the session's own text messages can be edited (and WhatsApp allows it for a limited time)",
  RECIPIENT_NOT_ON_WHATSAPP: 'the phone number is not on WhatsApp; nothing was sent; `details.chatId`',
  NOT_SUPPORTED_BY_ENGINE: "the session's engine cannot do this",
  SEND_OUTCOME_UNKNOWN:
    'the engine failed after WhatsApp may have taken the message: it may have been sent (a retry under the same `Idempotency-Key` never sends it again)',
  IDEMPOTENCY_KEY_REUSED: 'the `Idempotency-Key` was used with another body',
  IDEMPOTENCY_IN_PROGRESS: 'a request with this `Idempotency-Key` is still running (or its host died mid-send)',
  PAYLOAD_TOO_LARGE: `the body is over ${maxBodyBytes} bytes (the send route: ${maxSendBodyBytes}), or the media at \`media.url\` is over \`MEDIA_MAX_BYTES\``,
  UNSUPPORTED_MEDIA_TYPE: 'the body is not sent as `application/json`',
  RATE_LIMITED:
    'a rate limit of docs/api.md "Limits": the key\'s requests (`KEY_RATE_LIMIT`), wrong keys from this address (`FAILED_KEY_LIMIT`), its Idempotency-Key records, or the session\'s sends (`SEND_RATE_LIMIT`); `retry-after` says when to retry',
  WHATSAPP_UNREACHABLE: 'the engine cannot reach WhatsApp',
  SESSION_HOST_UNAVAILABLE: 'no live session host holds the session (on create: none runs at all)',
  SERVICE_UNAVAILABLE: 'Redis does not answer',
  TIMEOUT: 'the session host did not answer within `COMMAND_TIMEOUT_MS`',
  INTERNAL: 'a bug; the message names the request id',
};

const fieldErrorSchema = z.object({ path: z.string(), message: z.string() });

/** The envelope of every error answer, as a type (each status's schema narrows `code` to its codes). */
export interface ErrorEnvelope {
  error: ErrorBody;
}

interface ErrorResponse {
  description: string;
  headers?: z.ZodObject;
  content: { 'application/json': { schema: z.ZodType<ErrorEnvelope> } };
}

type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 502 | 503 | 504;
type ErrorTable = Partial<Record<ErrorStatus, readonly ErrorCode[]>>;

function errorEnvelopeSchema(codes: readonly ErrorCode[]): z.ZodType<ErrorEnvelope> {
  const [first, ...rest] = codes;
  if (first === undefined) throw new Error('an error response needs at least one code');
  const details = codes.every((code) => code === 'VALIDATION_FAILED')
    ? z.object({ fields: z.array(fieldErrorSchema) }).meta({ description: 'Each field that does not match, and why.' })
    : z.record(z.string(), z.unknown()).optional();
  return z.object({
    error: z.object({ code: z.enum([first, ...rest]), message: z.string().meta({ description: 'A human sentence.' }), details }),
  });
}

/**
 * One response per status, each code checked against the contract's status table (a code under the wrong status
 * throws when this module loads, so every test sees it).
 */
function errorResponses(...tables: ErrorTable[]): Record<number, ErrorResponse> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const table of tables) {
    for (const [status, codes] of Object.entries(table)) {
      for (const code of codes ?? []) {
        if (httpStatusOf(code) !== Number(status)) throw new Error(`${code} is answered with ${httpStatusOf(code)}, not ${status}`);
        const list = byStatus.get(Number(status)) ?? [];
        if (!list.includes(code)) list.push(code);
        byStatus.set(Number(status), list);
      }
    }
  }
  const responses: Record<number, ErrorResponse> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const response: ErrorResponse = {
      description: codes.map((code) => `\`${code}\`: ${whenByCode[code]}.`).join(' '),
      content: { 'application/json': { schema: errorEnvelopeSchema(codes) } },
    };
    if (codes.includes('RATE_LIMITED')) {
      response.headers = z.object({ 'retry-after': z.string().meta({ description: 'Seconds to wait before sending again.' }) });
    }
    responses[status] = response;
  }
  return responses;
}

type ErrorResponses<Statuses extends number> = { [S in Statuses]: ErrorResponse };

/**
 * The error answers of a route that needs a key: the given ones, 401, 429 (the key's request rate, or too many wrong
 * keys from the client's address: docs/api.md "Limits"), and 500/503 (a bug, Redis away).
 */
function errors<const T extends ErrorTable>(table: T): ErrorResponses<Extract<keyof T, number> | 401 | 429 | 500 | 503> {
  return errorResponses({ 401: ['UNAUTHORIZED'] }, table, { 429: ['RATE_LIMITED'], 500: ['INTERNAL'], 503: ['SERVICE_UNAVAILABLE'] }) as ErrorResponses<
    Extract<keyof T, number> | 401 | 429 | 500 | 503
  >;
}

/** The error answers of a route that needs no key. */
function publicErrors<const T extends ErrorTable>(table: T): ErrorResponses<Extract<keyof T, number> | 500> {
  return errorResponses(table, { 500: ['INTERNAL'] }) as ErrorResponses<Extract<keyof T, number> | 500>;
}

/** What every route that reads a body may answer besides its own refusals. */
const bodyErrors = { 400: ['VALIDATION_FAILED'], 413: ['PAYLOAD_TOO_LARGE'], 415: ['UNSUPPORTED_MEDIA_TYPE'] } as const;
/** What every command to the session host may answer. */
const hostErrors = { 503: ['SESSION_HOST_UNAVAILABLE'], 504: ['TIMEOUT'] } as const;
/** What a read of a connected session's WhatsApp data (chats, contacts…) can answer besides its success. */
const connectedReadErrors = {
  400: ['VALIDATION_FAILED'],
  404: ['SESSION_NOT_FOUND'],
  409: ['SESSION_NOT_CONNECTED'],
  502: ['WHATSAPP_UNREACHABLE'],
  ...hostErrors,
} as const;

const noKey: Array<Record<string, string[]>> = [];

/** The helpers a route file of its own declares its routes with (api-routes-keys.ts). */
export interface RouteHelpers {
  json: typeof json;
  jsonBody: typeof jsonBody;
  errors: typeof errors;
  bodyErrors: typeof bodyErrors;
}

// ---------------------------------------------------------------------------------------------------------------
// The routes

export const apiRoutes = {
  health: createRoute({
    operationId: 'health',
    method: 'get',
    path: '/api/health',
    tags: ['Service'],
    summary: 'Whether the service can reach Redis',
    security: noKey,
    responses: { 200: json('Redis answers.', z.object({ status: z.literal('ok') })), ...publicErrors({ 503: ['SERVICE_UNAVAILABLE'] }) },
  }),
  openApiDocument: createRoute({
    operationId: 'openApiDocument',
    method: 'get',
    path: '/api/openapi.json',
    tags: ['Service'],
    summary: 'This document',
    description: 'The OpenAPI 3.1 document of the REST API, generated from the schemas that validate requests.',
    security: noKey,
    responses: { 200: json('The OpenAPI 3.1 document.', z.record(z.string(), z.unknown())), ...publicErrors({}) },
  }),
  docsPage: createRoute({
    operationId: 'docsPage',
    method: 'get',
    path: docsPaths.page,
    tags: ['Service'],
    summary: 'A page that renders this document',
    description: 'Swagger UI, served by the service itself (no CDN): it works offline.',
    security: noKey,
    responses: { 200: { description: 'The HTML page.', content: { 'text/html': { schema: { type: 'string' } } } }, ...publicErrors({}) },
  }),
  docsScript: createRoute({
    operationId: 'docsScript',
    method: 'get',
    path: docsPaths.script,
    tags: ['Service'],
    summary: "The docs page's script (Swagger UI)",
    security: noKey,
    responses: { 200: { description: 'JavaScript.', content: { 'text/javascript': { schema: { type: 'string' } } } }, ...publicErrors({}) },
  }),
  docsStyle: createRoute({
    operationId: 'docsStyle',
    method: 'get',
    path: docsPaths.style,
    tags: ['Service'],
    summary: "The docs page's style sheet (Swagger UI)",
    security: noKey,
    responses: { 200: { description: 'CSS.', content: { 'text/css': { schema: { type: 'string' } } } }, ...publicErrors({}) },
  }),

  dashboardRoot: createRoute({
    operationId: 'dashboardRoot',
    method: 'get',
    path: '/',
    tags: ['Dashboard'],
    summary: 'The dashboard (the same page as `/dashboard`)',
    description:
      'Sessions with their live status, create, delete, restart, the QR to scan and the pairing-code form, a test send, and the live event stream of the WebSocket API. The page needs no key: it asks for one and keeps it in the tab\'s session storage.',
    security: noKey,
    responses: { 200: { description: 'The HTML page.', content: { 'text/html': { schema: { type: 'string' } } } }, ...publicErrors({}) },
  }),
  dashboardPage: createRoute({
    operationId: 'dashboardPage',
    method: 'get',
    path: '/dashboard',
    tags: ['Dashboard'],
    summary: 'The dashboard',
    description: 'The same page as `/`.',
    security: noKey,
    responses: { 200: { description: 'The HTML page.', content: { 'text/html': { schema: { type: 'string' } } } }, ...publicErrors({}) },
  }),
  dashboardScript: createRoute({
    operationId: 'dashboardScript',
    method: 'get',
    path: '/dashboard/app.js',
    tags: ['Dashboard'],
    summary: "The dashboard's script",
    security: noKey,
    responses: { 200: { description: 'JavaScript (an ES module).', content: { 'text/javascript': { schema: { type: 'string' } } } }, ...publicErrors({}) },
  }),

  listSessions: createRoute({
    operationId: 'listSessions',
    method: 'get',
    path: '/api/sessions',
    tags: ['Sessions'],
    summary: 'List sessions, oldest first, a page at a time',
    description: 'Pages of `limit` sessions (default 100); pass `nextCursor` as `cursor` for the next page (null on the last).',
    request: { query: sessionsQuerySchema },
    responses: {
      200: json('A page of sessions.', z.object({ sessions: z.array(sessionSchema), nextCursor: z.string().nullable() })),
      ...errors({ 400: ['VALIDATION_FAILED'] }),
    },
  }),
  createSession: createRoute({
    operationId: 'createSession',
    method: 'post',
    path: '/api/sessions',
    tags: ['Sessions'],
    summary: 'Create a session (it starts, then shows a QR)',
    description: 'The id is generated when absent.',
    request: { headers: idempotencyHeaders, body: jsonBody(createSessionBodySchema, false) },
    responses: {
      201: {
        ...json('Created.', sessionEnvelope),
        headers: z.object({ location: z.string().meta({ description: 'The new session, `/api/sessions/<id>`.' }) }),
      },
      ...errors({
        ...bodyErrors,
        409: ['SESSION_EXISTS', 'LIMIT_REACHED', 'IDEMPOTENCY_IN_PROGRESS'],
        422: ['IDEMPOTENCY_KEY_REUSED'],
        ...hostErrors,
      }),
    },
  }),
  getSession: createRoute({
    operationId: 'getSession',
    method: 'get',
    path: '/api/sessions/{sessionId}',
    tags: ['Sessions'],
    summary: 'Read a session',
    request: { params: sessionParams },
    responses: {
      200: json('The session.', sessionEnvelope),
      ...errors({ 400: ['VALIDATION_FAILED'], 404: ['SESSION_NOT_FOUND'] }),
    },
  }),
  getQr: createRoute({
    operationId: 'getQr',
    method: 'get',
    path: '/api/sessions/{sessionId}/qr',
    tags: ['Sessions'],
    summary: "The session's current QR, while it is in `qr`",
    description: 'JSON by default; with `accept: image/png` the PNG itself.',
    request: { params: sessionParams },
    responses: {
      200: {
        description: 'The QR as its raw string and as a PNG data URL, or the PNG.',
        content: {
          'application/json': { schema: z.object({ qr: z.string(), dataUrl: z.string().meta({ example: 'data:image/png;base64,iVBORw0…' }) }) },
          'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } },
        },
      },
      ...errors({ 400: ['VALIDATION_FAILED'], 404: ['SESSION_NOT_FOUND'], 409: ['QR_NOT_AVAILABLE'] }),
    },
  }),
  requestPairingCode: createRoute({
    operationId: 'requestPairingCode',
    method: 'post',
    path: '/api/sessions/{sessionId}/pairing-code',
    tags: ['Sessions'],
    summary: 'Link by phone number instead of a scan: a code to type on the phone',
    description: 'Only while the session is in `qr`. The `connection_update` event that follows carries `pairingCode`.',
    request: { params: sessionParams, body: jsonBody(pairingCodeBodySchema, true) },
    responses: {
      200: json('The code to type on the phone.', z.object({ code: z.string().meta({ example: 'ABCD-EFGH' }) })),
      ...errors({
        ...bodyErrors,
        404: ['SESSION_NOT_FOUND'],
        409: ['QR_NOT_AVAILABLE'],
        422: ['NOT_SUPPORTED_BY_ENGINE'],
        502: ['WHATSAPP_UNREACHABLE'],
        ...hostErrors,
      }),
    },
  }),
  deleteSession: createRoute({
    operationId: 'deleteSession',
    method: 'delete',
    path: '/api/sessions/{sessionId}',
    tags: ['Sessions'],
    summary: 'Log out, stop the client and remove its data',
    request: { params: sessionParams, body: jsonBody(emptyBodySchema, false, 'No fields: an empty body or `{}`.') },
    responses: {
      200: json('The session as it was.', sessionEnvelope),
      ...errors({ ...bodyErrors, 404: ['SESSION_NOT_FOUND'], ...hostErrors }),
    },
  }),
  restartSession: createRoute({
    operationId: 'restartSession',
    method: 'post',
    path: '/api/sessions/{sessionId}/restart',
    tags: ['Sessions'],
    summary: 'Start a failed or stuck session again, keeping its data',
    request: { params: sessionParams, body: jsonBody(emptyBodySchema, false, 'No fields: an empty body or `{}`.') },
    responses: {
      202: json('The session as it is at that moment; it goes through `starting` again.', sessionEnvelope),
      ...errors({ ...bodyErrors, 404: ['SESSION_NOT_FOUND'], ...hostErrors }),
    },
  }),

  sendMessage: createRoute({
    operationId: 'sendMessage',
    method: 'post',
    path: '/api/messages/{sessionId}/send',
    tags: ['Messages'],
    summary: 'Send a text, media or a location; optionally as a reply, with mentions',
    description: [
      'Exactly one of `text`, `media` and `location`.',
      '`media` takes `data` (base64, up to 4 MB decoded; this route takes bodies up to 6 MB) or `url` (fetched by the service: http(s), no private, loopback or link-local addresses unless `MEDIA_FETCH_ALLOW_PRIVATE=true`, at most `MEDIA_MAX_BYTES`, 3 redirects, `MEDIA_FETCH_TIMEOUT_MS`).',
      'Media bytes never travel through Redis nor in events: the message carries `media` metadata and a download `url`.',
      'Examples: `{"chatId": "15551234567", "text": "hi"}`; `{"chatId": "15551234567", "media": {"data": "iVBORw0KGgo…", "mimetype": "image/png", "caption": "a cat"}}`; `{"chatId": "15551234567", "media": {"url": "https://example.com/report.pdf", "mimetype": "application/pdf", "filename": "report.pdf"}}`; `{"chatId": "15551234567", "location": {"latitude": 52.52, "longitude": 13.405, "name": "Berlin"}}`; `{"chatId": "15551234567", "text": "yes", "replyTo": "false_15551234567@c.us_3EB0C0FFEE"}`.',
    ].join('\n\n'),
    request: {
      params: sessionParams,
      headers: idempotencyHeaders,
      body: {
        required: true,
        content: { 'application/json': { schema: sendMessageBodySchema, examples: sendExamples } },
        'x-max-body-bytes': maxSendBodyBytes,
      },
    },
    responses: {
      201: json('Sent (`ack` is `sent`; later acks come as `message_ack` events).', z.object({ message: messageSchema })),
      ...errors({
        ...bodyErrors,
        404: ['SESSION_NOT_FOUND', 'MESSAGE_NOT_FOUND'],
        409: ['SESSION_NOT_CONNECTED', 'IDEMPOTENCY_IN_PROGRESS'],
        422: ['RECIPIENT_NOT_ON_WHATSAPP', 'IDEMPOTENCY_KEY_REUSED', 'NOT_SUPPORTED_BY_ENGINE'],
        429: ['RATE_LIMITED'],
        502: ['SEND_OUTCOME_UNKNOWN', 'WHATSAPP_UNREACHABLE'],
        ...hostErrors,
      }),
    },
  }),
  listChats: createRoute({
    operationId: 'listChats',
    method: 'get',
    path: '/api/messages/{sessionId}/chats',
    tags: ['Messages'],
    summary: 'Chats, newest first',
    request: { params: sessionParams },
    responses: {
      200: json('The chats.', z.object({ chats: z.array(chatSchema) })),
      ...errors(connectedReadErrors),
    },
  }),
  getChatMessages: createRoute({
    operationId: 'getChatMessages',
    method: 'get',
    path: '/api/messages/{sessionId}/chat/{chatId}',
    tags: ['Messages'],
    summary: "A chat's latest messages, oldest first, a page at a time",
    description: 'Pass `nextBefore` as `before` for the page before (older); `nextBefore` is null on the oldest page.',
    request: {
      params: z.object({ sessionId: sessionIdParam, chatId: chatIdParam }),
      query: messagesQuerySchema,
    },
    responses: {
      200: json('The messages.', z.object({ messages: z.array(messageSchema), nextBefore: z.string().nullable() })),
      ...errors({ ...connectedReadErrors, 404: ['SESSION_NOT_FOUND', 'MESSAGE_NOT_FOUND'] }),
    },
  }),
  markChatRead: createRoute({
    operationId: 'markChatRead',
    method: 'post',
    path: '/api/messages/{sessionId}/chat/{chatId}/read',
    tags: ['Messages'],
    summary: 'Mark a chat read (blue ticks to the senders of what was unread)',
    request: {
      params: z.object({ sessionId: sessionIdParam, chatId: chatIdParam }),
      body: jsonBody(emptyBodySchema, false, 'No fields: an empty body or `{}`.'),
    },
    responses: {
      200: json('Marked read.', emptyResult),
      ...errors({ ...connectedReadErrors, ...bodyErrors, 422: ['NOT_SUPPORTED_BY_ENGINE'] }),
    },
  }),
  downloadMedia: createRoute({
    operationId: 'downloadMedia',
    method: 'get',
    path: '/api/messages/{sessionId}/message/{messageId}/media',
    tags: ['Messages'],
    summary: "A message's media: the file itself, or a redirect to a short-lived URL of the blob store",
    request: { params: messageParams },
    responses: {
      200: {
        description: 'The file, with its `content-type` and a `content-disposition` naming it.',
        content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
      },
      302: {
        description: 'Where to fetch it (a presigned blob store URL that needs no key, valid for a few minutes).',
        headers: z.object({ location: z.string() }),
      },
      ...errors({
        ...connectedReadErrors,
        404: ['SESSION_NOT_FOUND', 'MESSAGE_NOT_FOUND', 'MEDIA_NOT_FOUND'],
        422: ['NOT_SUPPORTED_BY_ENGINE'],
      }),
    },
  }),
  reactToMessage: createRoute({
    operationId: 'reactToMessage',
    method: 'post',
    path: '/api/messages/{sessionId}/message/{messageId}/reaction',
    tags: ['Messages'],
    summary: 'React to a message with an emoji (`""` takes the reaction back)',
    description: 'Example: `{"emoji": "👍"}`. The other side gets a `message_reaction` event.',
    request: { params: messageParams, body: jsonBody(reactionBodySchema, true) },
    responses: {
      200: json('Reacted.', emptyResult),
      ...errors({
        ...connectedReadErrors,
        ...bodyErrors,
        404: ['SESSION_NOT_FOUND', 'MESSAGE_NOT_FOUND'],
        422: ['NOT_SUPPORTED_BY_ENGINE'],
      }),
    },
  }),
  editMessage: createRoute({
    operationId: 'editMessage',
    method: 'patch',
    path: '/api/messages/{sessionId}/message/{messageId}',
    tags: ['Messages'],
    summary: "Edit one of the session's own text messages",
    description: 'Example: `{"text": "corrected"}`. The other side gets a `message_edited` event.',
    request: { params: messageParams, body: jsonBody(editMessageBodySchema, true) },
    responses: {
      200: json('The message as it is now.', z.object({ message: messageSchema })),
      ...errors({
        ...connectedReadErrors,
        ...bodyErrors,
        404: ['SESSION_NOT_FOUND', 'MESSAGE_NOT_FOUND'],
        409: ['SESSION_NOT_CONNECTED', 'MESSAGE_NOT_EDITABLE'],
        422: ['NOT_SUPPORTED_BY_ENGINE'],
      }),
    },
  }),
  deleteMessage: createRoute({
    operationId: 'deleteMessage',
    method: 'delete',
    path: '/api/messages/{sessionId}/message/{messageId}',
    tags: ['Messages'],
    summary: 'Delete a message: for everyone (`?everyone=true`) where WhatsApp allows it, else for this session only',
    description: 'Deleted for everyone, the other side gets a `message_revoked` event.',
    request: { params: messageParams, query: deleteMessageQuerySchema, body: jsonBody(emptyBodySchema, false, 'No fields: an empty body or `{}`.') },
    responses: {
      200: json('Deleted.', emptyResult),
      ...errors({
        ...connectedReadErrors,
        ...bodyErrors,
        404: ['SESSION_NOT_FOUND', 'MESSAGE_NOT_FOUND'],
        422: ['NOT_SUPPORTED_BY_ENGINE'],
      }),
    },
  }),
  listContacts: createRoute({
    operationId: 'listContacts',
    method: 'get',
    path: '/api/messages/{sessionId}/contacts',
    tags: ['Messages'],
    summary: 'Contacts',
    request: { params: sessionParams },
    responses: {
      200: json('The contacts.', z.object({ contacts: z.array(contactSchema) })),
      ...errors(connectedReadErrors),
    },
  }),
  getContact: createRoute({
    operationId: 'getContact',
    method: 'get',
    path: '/api/messages/{sessionId}/contacts/{contactId}',
    tags: ['Messages'],
    summary: 'One contact, with both identities (phone and LID) as far as WhatsApp tells them',
    request: { params: z.object({ sessionId: sessionIdParam, contactId: chatIdParam }) },
    responses: {
      200: json('The contact.', z.object({ contact: contactSchema })),
      ...errors({
        400: ['VALIDATION_FAILED'],
        404: ['SESSION_NOT_FOUND', 'CONTACT_NOT_FOUND'],
        409: ['SESSION_NOT_CONNECTED'],
        502: ['WHATSAPP_UNREACHABLE'],
        ...hostErrors,
      }),
    },
  }),

  simulatorScan: createRoute({
    operationId: 'simulatorScan',
    method: 'post',
    path: '/api/simulator/sessions/{sessionId}/scan',
    tags: ['Simulator'],
    summary: "Simulator only: play the phone scanning the session's QR",
    request: { params: sessionParams, body: jsonBody(simulatorScanBodySchema, false) },
    responses: {
      202: json('Scanned; the session goes `authenticated` → `connected`.', simulatorControls.scan.result),
      ...errors({ ...bodyErrors, 404: ['SESSION_NOT_FOUND'], 409: ['QR_NOT_AVAILABLE', 'PHONE_IN_USE'], ...hostErrors }),
    },
  }),
  simulatorPair: createRoute({
    operationId: 'simulatorPair',
    method: 'post',
    path: '/api/simulator/sessions/{sessionId}/pair',
    tags: ['Simulator'],
    summary: 'Simulator only: play the phone typing a pairing code',
    request: { params: sessionParams, body: jsonBody(simulatorPairBodySchema, true) },
    responses: {
      202: json('Linked to the number the code was asked for.', simulatorControls.pair.result),
      ...errors({
        ...bodyErrors,
        404: ['SESSION_NOT_FOUND'],
        409: ['PAIRING_CODE_MISMATCH', 'QR_NOT_AVAILABLE', 'PHONE_IN_USE'],
        ...hostErrors,
      }),
    },
  }),
  simulatorIncoming: createRoute({
    operationId: 'simulatorIncoming',
    method: 'post',
    path: '/api/simulator/sessions/{sessionId}/incoming',
    tags: ['Simulator'],
    summary: 'Simulator only: a message to the session from outside the simulation',
    request: { params: sessionParams, body: jsonBody(simulatorIncomingBodySchema, true) },
    responses: {
      202: json('Delivered to the session (it also comes as a `message` event).', simulatorControls.incoming.result),
      ...errors({ ...bodyErrors, 404: ['SESSION_NOT_FOUND'], 409: ['SESSION_NOT_CONNECTED'], ...hostErrors }),
    },
  }),

  createWebhook: createRoute({
    operationId: 'createWebhook',
    method: 'post',
    path: '/api/webhooks',
    tags: ['Webhooks'],
    summary: 'Register an HTTP endpoint for events: at least once, signed (Standard Webhooks), retried, replayable',
    request: { body: jsonBody(createWebhookBodySchema, true) },
    responses: {
      201: json('The webhook, and its signing secret (shown this once).', createdWebhookResponseSchema),
      ...errors({ ...bodyErrors, 409: ['LIMIT_REACHED'] }),
    },
  }),
  listWebhooks: createRoute({
    operationId: 'listWebhooks',
    method: 'get',
    path: '/api/webhooks',
    tags: ['Webhooks'],
    summary: 'Every webhook (never a secret)',
    responses: { 200: json('The webhooks.', webhooksResponseSchema), ...errors({}) },
  }),
  getWebhook: createRoute({
    operationId: 'getWebhook',
    method: 'get',
    path: '/api/webhooks/{webhookId}',
    tags: ['Webhooks'],
    summary: 'One webhook',
    request: { params: webhookParams },
    responses: { 200: json('The webhook.', webhookResponseSchema), ...errors({ 400: ['VALIDATION_FAILED'], 404: ['WEBHOOK_NOT_FOUND'] }) },
  }),
  deleteWebhook: createRoute({
    operationId: 'deleteWebhook',
    method: 'delete',
    path: '/api/webhooks/{webhookId}',
    tags: ['Webhooks'],
    summary: 'Stop and forget a webhook (deliveries stop at once)',
    request: { params: webhookParams, body: jsonBody(emptyBodySchema, false) },
    responses: { 200: json('The webhook as it was.', webhookResponseSchema), ...errors({ ...bodyErrors, 404: ['WEBHOOK_NOT_FOUND'] }) },
  }),
  listWebhookDeliveries: createRoute({
    operationId: 'listWebhookDeliveries',
    method: 'get',
    path: '/api/webhooks/{webhookId}/deliveries',
    tags: ['Webhooks'],
    summary: 'The latest deliveries of a webhook, newest first, optionally of one status',
    request: { params: webhookParams, query: deliveriesQuerySchema },
    responses: { 200: json('The deliveries.', deliveriesResponseSchema), ...errors({ 400: ['VALIDATION_FAILED'], 404: ['WEBHOOK_NOT_FOUND'] }) },
  }),
  replayWebhook: createRoute({
    operationId: 'replayWebhook',
    method: 'post',
    path: '/api/webhooks/{webhookId}/replay',
    tags: ['Webhooks'],
    summary: 'Deliver again every event of a session after an event id, as far as the log still keeps them',
    request: { params: webhookParams, body: jsonBody(replayWebhookBodySchema, true) },
    responses: {
      202: json('How many events were queued for delivery.', replayResponseSchema),
      ...errors({ ...bodyErrors, 404: ['WEBHOOK_NOT_FOUND', 'SESSION_NOT_FOUND'] }),
    },
  }),

  ...keyRouteDeclarations({ json, jsonBody, errors, bodyErrors }),
};

export type ApiRoutes = typeof apiRoutes;
export type ApiRouteName = keyof ApiRoutes;
