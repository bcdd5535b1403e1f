/**
 * The protocol between the functions and the session hosts over Redis.
 *
 * A caller LPUSHes a `CommandEnvelope` onto the inbox list of the host that owns the session and waits on its own
 * reply channel (pub/sub) until `deadline`. The host BRPOPs the envelope (so exactly one host takes it, once),
 * drops it unrun when the deadline has passed, runs it, and PUBLISHes a `CommandReply` to `replyTo`.
 * Both sides validate what crosses Redis with these schemas.
 */
import { z } from 'zod';
import { errorCodes } from './errors.js';
import {
  ackSchema,
  chatSchema,
  contactSchema,
  messageLocationSchema,
  messageSchema,
  sessionIdSchema,
  sessionSchema,
  meSchema,
  type Session,
} from './api.js';

export const protocolVersion = 1;

/** A message crossing the simulated network from one simulated session's host to another's. */
export const simulatedWireMessageSchema = z.object({
  id: z.string(),
  /** The sender's phone id, as the sender's own history keeps it. */
  from: z.string(),
  /** The id the sender addressed (a phone id or the receiver's LID). */
  to: z.string(),
  body: z.string(),
  timestamp: z.string(),
  senderSessionId: sessionIdSchema,
  senderPushName: z.string(),
  /** The sender's LID (`<digits>@lid`): WhatsApp shows the sender by LID. */
  senderLid: z.string(),
  /** The sender's phone digits when the two were contacts before this message, else null. */
  senderPhone: z.string().nullable(),
  /** WhatsApp's message type (`chat`, `image`, `ptt`, `document`, `location`…). */
  type: z.string().default('chat'),
  /** The wire id of the message this one quotes. */
  quotedWireId: z.string().nullable().default(null),
  /** Media: where the bytes are in the blob store (the simulated "WhatsApp servers"). */
  media: z
    .object({ blobKey: z.string(), mimetype: z.string(), filename: z.string().nullable(), size: z.number().int().nonnegative() })
    .nullable()
    .default(null),
  location: messageLocationSchema.nullable().default(null),
});
export type SimulatedWireMessage = z.infer<typeof simulatedWireMessageSchema>;

/**
 * What waits in a simulated session's mailbox (a Redis list per session, whichever host runs it): a message from
 * another simulated session, or an ack of a message the session sent. The mailbox outlives hosts: what is pushed is
 * delivered by whichever host runs the session next.
 */
export const simulatedMailItemSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('message'), message: simulatedWireMessageSchema }),
  z.object({ kind: z.literal('ack'), messageId: z.string(), chatId: z.string(), ack: ackSchema }),
  /**
   * What one side did to a message both have, by its wire id; `targetId` is the receiver's id of that message as
   * the poster guesses it (used when the receiver no longer has the message: its history moved with a host).
   */
  z.object({
    kind: z.literal('reaction'),
    wireId: z.string(),
    targetId: z.string(),
    emoji: z.string(),
    senderLid: z.string(),
    senderPhone: z.string().nullable(),
    /** Distinguishes two reactions of one person to one message (the mailbox delivers each item once). */
    nonce: z.string(),
  }),
  z.object({ kind: z.literal('edit'), wireId: z.string(), targetId: z.string(), body: z.string(), nonce: z.string() }),
  z.object({ kind: z.literal('revoke'), wireId: z.string(), targetId: z.string() }),
]);
export type SimulatedMailItem = z.infer<typeof simulatedMailItemSchema>;

const sessionResult = z.object({ session: sessionSchema });

/**
 * What a send carries: a text, a location, or media by its key in the blob store (the function put the bytes there:
 * media never travels through Redis).
 */
export const outgoingContentSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('text'), text: z.string() }),
  z.object({
    kind: z.literal('media'),
    blobKey: z.string(),
    mimetype: z.string(),
    filename: z.string().nullable(),
    caption: z.string().nullable(),
    asVoice: z.boolean(),
  }),
  z.object({ kind: z.literal('location'), location: messageLocationSchema }),
]);
export type OutgoingContentCommand = z.infer<typeof outgoingContentSchema>;

/** Media in the blob store, as the download route serves it. */
export const storedMediaSchema = z.object({
  blobKey: z.string(),
  mimetype: z.string(),
  filename: z.string().nullable(),
  size: z.number().int().nonnegative(),
});
export type StoredMedia = z.infer<typeof storedMediaSchema>;

/** One command of the protocol: the fields of its request (besides `type`) and what a successful reply carries. */
function command<Request extends z.ZodRawShape, Result extends z.ZodType>(request: Request, result: Result) {
  return { request, result };
}

/**
 * Every command, each declared once: its request fields and its result. The session host's handler map is typed
 * `{[T in CommandType]: Handler<T>}` over this table, so a command without a handler does not compile.
 */
export const commands = {
  create: command({}, sessionResult),
  delete: command({}, sessionResult),
  restart: command({}, sessionResult),
  send: command(
    {
      chatId: z.string(),
      content: outgoingContentSchema,
      /** The message this one quotes. */
      replyTo: z.string().optional(),
      /** Chat ids to @-mention (groups). */
      mentions: z.array(z.string()).optional(),
      /** The client's Idempotency-Key: the host sends at most once per key, even across its own crashes. */
      idempotencyKey: z.string().optional(),
    },
    z.object({ message: messageSchema }),
  ),
  chats: command({}, z.object({ chats: z.array(chatSchema) })),
  messages: command(
    { chatId: z.string(), limit: z.number().int().min(1).max(500), before: z.string().optional() },
    z.object({ messages: z.array(messageSchema), nextBefore: z.string().nullable() }),
  ),
  /** Puts a message's media in the blob store (if not there yet) and answers where: the function serves it from there. */
  'media.download': command({ messageId: z.string() }, storedMediaSchema),
  'message.react': command({ messageId: z.string(), emoji: z.string() }, z.object({})),
  'message.edit': command({ messageId: z.string(), text: z.string() }, z.object({ message: messageSchema })),
  'message.delete': command({ messageId: z.string(), everyone: z.boolean() }, z.object({})),
  'chat.read': command({ chatId: z.string() }, z.object({})),
  contacts: command({}, z.object({ contacts: z.array(contactSchema) })),
  contact: command({ contactId: z.string() }, z.object({ contact: contactSchema })),
  'pairing-code': command({ phone: z.string().regex(/^\d{6,15}$/) }, z.object({ code: z.string() })),
  /**
   * An engine's own control (the simulator's scan, pair, incoming, and the nudge between hosts that a session's
   * mailbox has something): the engine declares its controls and their schemas (contract/simulator.ts), the
   * protocol only carries them. An engine without that control answers NOT_SUPPORTED_BY_ENGINE.
   */
  'engine.control': command({ action: z.string().min(1).max(64), input: z.unknown() }, z.unknown()),
  'ws.resume': command(
    { connectionId: z.string().min(1), after: z.string() },
    // The host answers as soon as the replay is queued (the replay then answers the client itself with `resumed`);
    // a host of an earlier version answers after its replay, with the counts.
    z.union([
      z.object({ queued: z.literal(true) }),
      z.object({ replayed: z.number().int().nonnegative(), expired: z.boolean() }),
    ]),
  ),
};

export type CommandType = keyof typeof commands;
/** The fields of a request shape; a command without fields has none (not an index signature of `never`). */
type FieldsOf<Shape extends z.ZodRawShape> = keyof Shape extends never ? Record<never, never> : z.infer<z.ZodObject<Shape>>;
export type CommandOf<T extends CommandType> = { type: T } & FieldsOf<(typeof commands)[T]['request']>;
export type Command = { [T in CommandType]: CommandOf<T> }[CommandType];
export type CommandResult<T extends CommandType> = z.infer<(typeof commands)[T]['result']>;

const commandTypes = Object.keys(commands) as CommandType[];

/** The request of any command, `type` first: one schema per command, built from the table. */
export const commandSchema = z.discriminatedUnion(
  'type',
  commandTypes.map((type) => z.object({ type: z.literal(type), ...commands[type].request })) as unknown as [
    z.ZodObject<{ type: z.ZodLiteral<CommandType> }>,
    ...Array<z.ZodObject<{ type: z.ZodLiteral<CommandType> }>>,
  ],
) as unknown as z.ZodType<Command>;

/** What a successful reply carries, per command: validated again by the caller. */
export const commandResultSchemas = Object.fromEntries(commandTypes.map((type) => [type, commands[type].result])) as {
  [T in CommandType]: (typeof commands)[T]['result'];
};

export const commandEnvelopeSchema = z.object({
  v: z.literal(protocolVersion),
  requestId: z.string().min(1),
  sessionId: sessionIdSchema,
  /** Epoch ms after which the caller has given up: the host must not start the command. */
  deadline: z.number().int().positive(),
  /** The caller's request id (x-request-id), for logs only: correlation uses `requestId`, which the bus makes. */
  traceId: z.string().max(128).optional(),
  /** The pub/sub channel the caller listens on; null for fire-and-forget commands between hosts. */
  replyTo: z.string().nullable(),
  command: commandSchema,
});
export type CommandEnvelope = z.infer<typeof commandEnvelopeSchema>;

export const errorBodySchema = z.object({
  code: z.enum(errorCodes),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});

export const commandReplySchema = z.discriminatedUnion('ok', [
  z.object({ requestId: z.string(), ok: z.literal(true), result: z.unknown() }),
  z.object({ requestId: z.string(), ok: z.literal(false), error: errorBodySchema }),
]);
export type CommandReply = z.infer<typeof commandReplySchema>;



// ---------------------------------------------------------------------------------------------------------------
// Session state in Redis

/** What the session host keeps in Redis for each session; the public `Session` plus what the functions need. */
export const sessionRecordSchema = sessionSchema.extend({
  /** The latest QR while status is `qr`, else null. */
  qr: z.string().nullable(),
  me: meSchema.nullable(),
});
export type SessionRecord = z.infer<typeof sessionRecordSchema>;

/** The public Session of a record (the QR is served by its own route only). */
export function publicSession(record: SessionRecord): Session {
  const { qr: _qr, ...session } = record;
  return session;
}

/** A live session host, as it announces itself with each heartbeat. */
export const hostInfoSchema = z.object({
  hostId: z.string(),
  engine: z.string(),
  sessions: z.number().int().nonnegative(),
  startedAt: z.string(),
  heartbeatAt: z.string(),
  /** The same instant in epoch ms: placement counts the sessions placed on the host since then. */
  heartbeatAtMs: z.number().optional(),
  /** The most sessions the host runs (MAX_SESSIONS_PER_HOST); placement skips a full host. Absent: no cap. */
  maxSessions: z.number().int().positive().optional(),
});
export type HostInfo = z.infer<typeof hostInfoSchema>;
