/**
 * Events pushed to WebSocket clients, and what clients may send. Each event is appended by the session host to a
 * capped per-session Redis stream first; the stream entry id is the event id (increasing within a session).
 */
import { z } from 'zod';
import { ackSchema, identitySchema, lastErrorSchema, meSchema, messageSchema, sessionIdSchema, sessionStatusSchema } from './api.js';

export const connectionUpdateDataSchema = z.object({
  status: sessionStatusSchema,
  qr: z.string().nullable(),
  lastError: lastErrorSchema,
  me: meSchema.nullable().optional(),
  /** On the update that follows a pairing-code request: the code the user types on the phone. */
  pairingCode: z.string().optional(),
});

export const messageAckDataSchema = z.object({ messageId: z.string(), chatId: z.string(), ack: ackSchema });

/** Someone reacted to a message of the chat (`emoji` `""`: took the reaction back). */
export const messageReactionDataSchema = z.object({ messageId: z.string(), chatId: z.string(), sender: identitySchema, emoji: z.string() });
/** The sender deleted a message for everyone. */
export const messageRevokedDataSchema = z.object({ messageId: z.string(), chatId: z.string() });
/** The sender edited a message: its new text. */
export const messageEditedDataSchema = z.object({ messageId: z.string(), chatId: z.string(), body: z.string() });

/** An event before it has an id: what the session host raises and appends to the log. */
export const eventBodySchema = z.discriminatedUnion('event', [
  z.object({
    event: z.literal('connection_update'),
    sessionId: sessionIdSchema,
    timestamp: z.string(),
    data: connectionUpdateDataSchema,
  }),
  z.object({ event: z.literal('message'), sessionId: sessionIdSchema, timestamp: z.string(), data: messageSchema }),
  z.object({
    event: z.literal('message_ack'),
    sessionId: sessionIdSchema,
    timestamp: z.string(),
    data: messageAckDataSchema,
  }),
  z.object({ event: z.literal('message_reaction'), sessionId: sessionIdSchema, timestamp: z.string(), data: messageReactionDataSchema }),
  z.object({ event: z.literal('message_revoked'), sessionId: sessionIdSchema, timestamp: z.string(), data: messageRevokedDataSchema }),
  z.object({ event: z.literal('message_edited'), sessionId: sessionIdSchema, timestamp: z.string(), data: messageEditedDataSchema }),
]);
export type EventBody = z.infer<typeof eventBodySchema>;
export type ServiceEvent = EventBody & { id: string; truncated?: true };

const maxStreamPart = 18_446_744_073_709_551_615n;

/**
 * `<ms>-<seq>`, both parts unsigned 64-bit numbers (Redis refuses more), and not the greatest id of all: nothing can
 * come after it, and Redis refuses it as the exclusive start of a range (`XRANGE key (<max> +`: "invalid start ID").
 */
export function isStreamId(id: string): boolean {
  if (!/^\d{1,20}-\d{1,20}$/.test(id)) return false;
  const [ms, seq] = id.split('-').map((part) => BigInt(part));
  if (ms === undefined || seq === undefined || ms > maxStreamPart || seq > maxStreamPart) return false;
  return !(ms === maxStreamPart && seq === maxStreamPart);
}

export const clientActionSchema = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('subscribe'), sessionId: sessionIdSchema }),
  z.strictObject({ action: z.literal('unsubscribe'), sessionId: sessionIdSchema }),
  z.strictObject({
    action: z.literal('resume'),
    sessionId: sessionIdSchema,
    after: z.string().refine(isStreamId, 'must be an event id this service gave'),
  }),
  z.strictObject({ action: z.literal('ping') }),
]);
export type ClientAction = z.infer<typeof clientActionSchema>;
