/**
 * The OpenAPI 3.1 document of the REST API: the route declarations the app registered (api-routes.ts), the API key
 * scheme, and the WebSocket API's frames as named schemas under `components.schemas` (OpenAPI has no words for a
 * WebSocket; `webhooks` is kept for real HTTP webhooks). Built once per app, on first request.
 */
import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { clientActionSchema, eventBodySchema } from '../../contract/events.js';
import {
  errorFrameSchema,
  pongFrameSchema,
  resumedFrameSchema,
  subscribedFrameSchema,
  unsubscribedFrameSchema,
} from '../../contract/ws-frames.js';

type Declaring = Pick<OpenAPIHono, 'openAPIRegistry' | 'getOpenAPI31Document'>;
export type OpenApiDocument = ReturnType<OpenAPIHono['getOpenAPI31Document']>;

export const apiKeySchemeName = 'apiKey';

const description = `
A WhatsApp gateway: many WhatsApp accounts (sessions), a REST API to log them in and send and read messages, and a
WebSocket API for their events in real time.

**Keys.** Every route needs the header \`x-api-key\` except those marked as needing none (health, this document and
its page). The key is checked before the route: a request without a valid key gets 401 whatever its path.

**Errors.** Always \`{"error": {"code", "message", "details"?}}\`, never a stack trace; each operation lists the codes
it can answer under their status. A known path with another method answers 405 \`METHOD_NOT_ALLOWED\` with an
\`allow\` header; an unknown path 404 \`NOT_FOUND\`. Every answer carries \`x-request-id\`.

**WebSocket API.** Connect to the WebSocket endpoint (locally \`ws://127.0.0.1:3001\`) with \`?apiKey=KEY\` (or the
\`x-api-key\` header), optionally \`&sessionId=alice\`. The frames are schemas of this document: what a client
sends is \`WsClientAction\` (\`subscribe\`, \`unsubscribe\`, \`resume\`, \`ping\`); what the service sends is
\`WsServerFrame\`: the events (\`ConnectionUpdateEvent\`, \`MessageEvent\`, \`MessageAckEvent\`,
\`MessageReactionEvent\`, \`MessageEditedEvent\`, \`MessageRevokedEvent\`, each with an \`id\` that increases per
session, for \`resume\`; media is never in a frame, only its metadata and download URL) and the answers to actions (\`PongFrame\`, \`SubscribedFrame\`,
\`UnsubscribedFrame\`, \`ResumedFrame\`, \`ErrorFrame\`).
`.trim();

/** Registers what the routes do not bring: the key scheme and the WebSocket frames. Once per app. */
function registerExtras(app: Declaring): void {
  const { openAPIRegistry: registry } = app;
  registry.registerComponent('securitySchemes', apiKeySchemeName, { type: 'apiKey', in: 'header', name: 'x-api-key' });

  const actions = clientActionSchema.options.map((option) => {
    const action = option.shape.action.value;
    return registry.register(`${pascal(action)}Action`, option.meta({ description: `WebSocket, client → service: \`${action}\`.` }));
  });
  const [firstAction, ...otherActions] = actions;
  if (firstAction === undefined) throw new Error('the WebSocket API has no client actions');
  registry.register(
    'WsClientAction',
    z.discriminatedUnion('action', [firstAction, ...otherActions]).meta({
      description: 'A frame a WebSocket client sends (JSON text). `subscribe`/`unsubscribe` are answered by `subscribed`/`unsubscribed`, `ping` by `pong`, `resume` by the events missed then `resumed`; anything else by `error`.',
    }),
  );

  const events = eventBodySchema.options.map((option) => {
    const event = option.shape.event.value;
    const frame = option.extend({
      id: z.string().meta({ description: 'The event id: opaque, increasing within a session; give it to `resume`.' }),
      truncated: z
        .literal(true)
        .optional()
        .meta({ description: 'Only on a frame too large for the WebSocket API: the message body is cut (or `data` null); the REST history has it whole.' }),
    });
    return registry.register(`${pascal(event)}Event`, frame.meta({ description: `WebSocket, service → client: the \`${event}\` event.` }));
  });
  const controls = [
    registry.register('PongFrame', pongFrameSchema.meta({ description: 'The answer to `ping`.' })),
    registry.register('SubscribedFrame', subscribedFrameSchema.meta({ description: 'The answer to `subscribe`.' })),
    registry.register('UnsubscribedFrame', unsubscribedFrameSchema.meta({ description: 'The answer to `unsubscribe`.' })),
    registry.register(
      'ResumedFrame',
      resumedFrameSchema.meta({ description: 'A `resume` is done: after the last replayed event, before the live ones.' }),
    ),
    registry.register('ErrorFrame', errorFrameSchema.meta({ description: 'An action failed (or was not one).' })),
  ];
  const [firstFrame, ...otherFrames] = [...events, ...controls];
  if (firstFrame === undefined) throw new Error('the WebSocket API has no frames');
  registry.register(
    'WsServerFrame',
    z.discriminatedUnion('event', [firstFrame, ...otherFrames]).meta({ description: 'A frame the service sends a WebSocket client (JSON text).' }),
  );
}

/** `connection_update` → `ConnectionUpdate`. */
function pascal(name: string): string {
  return name
    .split(/[_-]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** The app's document; build it after every route is registered. */
export function buildOpenApiDocument(app: Declaring, options: { version: string }): OpenApiDocument {
  registerExtras(app);
  return app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: { title: 'whatsapp-service', version: options.version, description },
    security: [{ [apiKeySchemeName]: [] }],
    tags: [
      { name: 'Sessions', description: 'WhatsApp accounts: create, log in by QR or pairing code, restart, delete.' },
      { name: 'Messages', description: 'Send and read messages of a `connected` session.' },
      { name: 'Simulator', description: 'Controls of the simulated WhatsApp network; served only when the engine is `simulator`.' },
      { name: 'Webhooks', description: 'Events delivered to HTTP endpoints: signed (Standard Webhooks), retried, replayable.' },
      { name: 'Keys', description: 'API keys with scopes: administrators make tenant keys, which see only the sessions they create.' },
      { name: 'Dashboard', description: 'The operator page.' },
      { name: 'Service', description: 'Health, and this document.' },
    ],
  });
}
