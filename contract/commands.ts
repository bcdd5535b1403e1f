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
]);
export type SimulatedMailItem = z.infer<typeof simulatedMailItemSchema>;

export const commandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('create') }),
  z.object({ type: z.literal('delete') }),
  z.object({ type: z.literal('restart') }),
  z.object({
    type: z.literal('send'),
    chatId: z.string(),
    text: z.string(),
    /** The client's Idempotency-Key: the host sends at most once per key, even across its own crashes. */
    idempotencyKey: z.string().optional(),
  }),
  z.object({ type: z.literal('chats') }),
  z.object({ type: z.literal('messages'), chatId: z.string(), limit: z.number().int().min(1).max(500) }),
  z.object({ type: z.literal('contacts') }),
  z.object({ type: z.literal('contact'), contactId: z.string() }),
  z.object({ type: z.literal('pairing-code'), phone: z.string().regex(/^\d{6,15}$/) }),
  z.object({ type: z.literal('sim.scan'), phone: z.string().optional() }),
  z.object({ type: z.literal('sim.pair'), code: z.string() }),
  z.object({ type: z.literal('sim.incoming'), from: z.string(), text: z.string() }),
  /** A nudge between hosts: the session's mailbox has something; the host that runs it delivers it. */
  z.object({ type: z.literal('sim.drain') }),
  z.object({ type: z.literal('ws.resume'), connectionId: z.string().min(1), after: z.string() }),
]);
export type Command = z.infer<typeof commandSchema>;
export type CommandType = Command['type'];

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

const sessionResult = z.object({ session: sessionSchema });
const emptyResult = z.object({});

/** What a successful reply carries, per command: validated again by the caller. */
export const commandResultSchemas = {
  create: sessionResult,
  delete: sessionResult,
  restart: sessionResult,
  send: z.object({ message: messageSchema }),
  chats: z.object({ chats: z.array(chatSchema) }),
  messages: z.object({ messages: z.array(messageSchema) }),
  contacts: z.object({ contacts: z.array(contactSchema) }),
  contact: z.object({ contact: contactSchema }),
  'pairing-code': z.object({ code: z.string() }),
  'sim.scan': sessionResult,
  'sim.pair': sessionResult,
  'sim.incoming': z.object({ message: messageSchema }),
  'sim.drain': emptyResult,
  // The host answers as soon as the replay is queued (the replay then answers the client itself with `resumed`);
  // a host of an earlier version answers after its replay, with the counts.
  'ws.resume': z.union([
    z.object({ queued: z.literal(true) }),
    z.object({ replayed: z.number().int().nonnegative(), expired: z.boolean() }),
  ]),
} satisfies Record<CommandType, z.ZodType>;

export type CommandResult<T extends CommandType> = z.infer<(typeof commandResultSchemas)[T]>;
export type CommandOf<T extends CommandType> = Extract<Command, { type: T }>;

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
});
export type HostInfo = z.infer<typeof hostInfoSchema>;
