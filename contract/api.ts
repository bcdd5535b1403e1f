/**
 * The public shapes of the REST API (../shared/contract.md), as zod schemas. Types come from the schemas, and the
 * same schemas validate on both sides of Redis.
 */
import { z } from 'zod';
import { ValidationError } from './errors.js';

/** Names a folder under data/sessions, so nothing but these characters may pass (no dots, no slashes). */
export const sessionIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, "_" or "-"');
export type SessionId = z.infer<typeof sessionIdSchema>;

export const engineNames = ['webjs', 'simulator'] as const;
export const engineNameSchema = z.enum(engineNames);
export type EngineName = z.infer<typeof engineNameSchema>;

export const sessionStatuses = ['starting', 'qr', 'authenticated', 'connected', 'disconnected', 'failed'] as const;
export const sessionStatusSchema = z.enum(sessionStatuses);
export type SessionStatus = z.infer<typeof sessionStatusSchema>;

export const acks = ['pending', 'sent', 'delivered', 'read', 'played', 'failed'] as const;
export const ackSchema = z.enum(acks);
export type Ack = z.infer<typeof ackSchema>;

const isoTimestamp = z.iso.datetime({ offset: false });

export const lastErrorSchema = z.object({ code: z.string(), message: z.string() }).nullable();
export type LastError = z.infer<typeof lastErrorSchema>;

/**
 * Who a person is as far as WhatsApp tells: the id WhatsApp used (a phone id `<digits>@c.us` or a LID
 * `<digits>@lid`), and both identities where known. WhatsApp identifies many people by LID only.
 */
export const identitySchema = z.object({
  id: z.string(),
  lid: z.string().nullable(),
  phone: z.string().nullable(),
}).meta({ id: 'Identity' });
export type Identity = z.infer<typeof identitySchema>;

/**
 * `lid` is optional on input only so that records written before LIDs existed still parse; every answer and
 * event carries it (null when unknown).
 */
export const meSchema = z.object({
  id: z.string(),
  pushName: z.string(),
  lid: z.string().nullable().default(null),
}).meta({ id: 'Me' });
export type Me = z.output<typeof meSchema>;

export const sessionSchema = z.object({
  id: sessionIdSchema,
  status: sessionStatusSchema,
  engine: engineNameSchema,
  me: meSchema.nullable(),
  createdAt: isoTimestamp,
  updatedAt: isoTimestamp,
  lastError: lastErrorSchema,
}).meta({ id: 'Session' });
export type Session = z.infer<typeof sessionSchema>;

export const messageSchema = z.object({
  id: z.string(),
  chatId: z.string(),
  from: z.string(),
  to: z.string(),
  fromMe: z.boolean(),
  type: z.string(),
  body: z.string(),
  timestamp: isoTimestamp,
  ack: ackSchema,
  /** Who wrote it; for the session's own messages, the session's account. */
  sender: identitySchema,
}).meta({ id: 'Message' });
export type Message = z.infer<typeof messageSchema>;

export const chatSchema = z.object({
  id: z.string(),
  name: z.string(),
  isGroup: z.boolean(),
  unreadCount: z.number().int().nonnegative(),
  timestamp: isoTimestamp,
  lastMessage: messageSchema.nullable(),
  lid: z.string().nullable(),
  phone: z.string().nullable(),
}).meta({ id: 'Chat' });
export type Chat = z.infer<typeof chatSchema>;

export const contactSchema = z.object({
  id: z.string(),
  name: z.string(),
  pushName: z.string(),
  number: z.string(),
  isMyContact: z.boolean(),
  isGroup: z.boolean(),
  lid: z.string().nullable(),
  phone: z.string().nullable(),
}).meta({ id: 'Contact' });
export type Contact = z.infer<typeof contactSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Chat ids

const whatsAppIdPattern = /^(?:\d{5,20}@c\.us|\d{5,20}(?:-\d{1,20})?@g\.us|\d{5,20}@lid)$/;
const phoneSeparators = /[ \u00a0().-]/g;
/**
 * A phone number as people write it: an optional "+", then digits, with single separators (space, no-break space,
 * ".", "-") and parenthesised groups of digits between them; it starts with a digit (or "(") and ends with one.
 * Each check is linear: no regex here can backtrack badly.
 */
function isPhoneSpelling(text: string): boolean {
  return (
    /^\+?[\d(][\d() \u00a0.-]*$/.test(text) &&
    /[\d)]$/.test(text) &&
    !/[ \u00a0.-]{2}/.test(text) &&
    !/[()]/.test(text.replace(/\(\d+\)/g, ''))
  );
}

/**
 * Turns what a caller wrote into a WhatsApp chat id: ids pass as they are (`@s.whatsapp.net` becomes `@c.us`),
 * a phone number in any common spelling (`+1 555-123-4567`, `(555) 123 4567`, `0049 30 1234567`, `+44 (0)20 …`) becomes
 * `<digits>@c.us`. Returns null when it is neither.
 */
export function normaliseChatId(raw: string): string | null {
  const trimmed = raw.trim();
  if (trimmed.includes('@')) {
    const canonical = trimmed.replace(/@s\.whatsapp\.net$/, '@c.us');
    return whatsAppIdPattern.test(canonical) ? canonical : null;
  }
  // Only digits and the usual separators, each between digits (an optional leading "+" or "(" and trailing ")"):
  // "-15551234567", "../15551234567", "1555--1234567" or "1555/1234567" are not phone numbers.
  if (!isPhoneSpelling(trimmed)) return null;
  // "+44 (0)20 7946 0018": the (0) is the trunk prefix for calls inside the country, never dialled after +44.
  const international = /^(?:\+|00)/.test(trimmed);
  let digits = (international ? trimmed.replace(/\(0\)/g, '') : trimmed).replace(phoneSeparators, '');
  if (digits.startsWith('+')) digits = digits.slice(1);
  else if (digits.startsWith('00')) digits = digits.slice(2);
  // E.164 allows at most 15 digits; fewer than 6 cannot be a subscriber number anywhere.
  return /^\d{6,15}$/.test(digits) ? `${digits}@c.us` : null;
}

export const chatIdSchema = z
  .string()
  .max(128, 'must be at most 128 characters')
  .transform((raw, ctx) => {
    const id = normaliseChatId(raw);
    if (id === null) {
      ctx.addIssue({ code: 'custom', message: 'must be a WhatsApp id (…@c.us, …@g.us) or a phone number' });
      return z.NEVER;
    }
    return id;
  });

/** `<digits>@lid` → the LID itself, `<digits>@c.us` → null. */
export function isLid(id: string): boolean {
  return /^\d{1,20}@lid$/.test(id);
}

/** The identity of a person's id: a phone id says its number, a LID says itself; `known` adds what is known beside. */
export function identityOf(id: string, known: { lid?: string | null; phone?: string | null } = {}): Identity {
  if (isLid(id)) return { id, lid: id, phone: known.phone ?? null };
  if (id.endsWith('@c.us')) return { id, lid: known.lid ?? null, phone: known.phone ?? numberOfChatId(id) };
  return { id, lid: known.lid ?? null, phone: known.phone ?? null };
}

/** The number part of a chat id (`15551234567@c.us` → `15551234567`). */
export function numberOfChatId(chatId: string): string {
  return chatId.split('@')[0] ?? chatId;
}

// ---------------------------------------------------------------------------------------------------------------
// Request bodies and queries

export const maxTextLength = 65_536;
export const maxBodyBytes = 256 * 1024;

export const textSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(maxTextLength, `must be at most ${maxTextLength} characters`)
  // A lone UTF-16 surrogate (`"\ud800"` in JSON) is no character: WhatsApp would show garbage.
  .refine((text) => text.isWellFormed(), 'must be well-formed Unicode text (no lone surrogates)');

/** Routes that take no fields: an empty body or `{}`. */
export const emptyBodySchema = z.strictObject({});
export const createSessionBodySchema = z.strictObject({ sessionId: sessionIdSchema.optional() });
export const sendMessageBodySchema = z.strictObject({ chatId: chatIdSchema, text: textSchema });
export const simulatorScanBodySchema = z.strictObject({
  phone: z.string().regex(/^\d{6,15}$/, 'must be 6 to 15 digits').optional(),
});
export const simulatorIncomingBodySchema = z.strictObject({ from: chatIdSchema, text: textSchema });
export const pairingCodeBodySchema = z.strictObject({
  phone: z
    .string()
    .max(64, 'must be at most 64 characters')
    .transform((raw, ctx) => {
      const id = raw.includes('@') ? null : normaliseChatId(raw);
      if (id === null) {
        ctx.addIssue({ code: 'custom', message: 'must be a phone number in international form (e.g. +1 555 123 4567)' });
        return z.NEVER;
      }
      return numberOfChatId(id);
    }),
});
/** A pairing code as WhatsApp shows it: 8 letters or digits, with or without the dash after the fourth. */
export const pairingCodeSchema = z
  .string()
  .regex(/^[A-Za-z0-9]{4}-?[A-Za-z0-9]{4}$/, 'must be the 8-character code, e.g. ABCD-EFGH')
  .transform((code) => formatPairingCode(code));
export const simulatorPairBodySchema = z.strictObject({ code: pairingCodeSchema });

/** `abcdefgh` or `ABCD-EFGH` → `ABCD-EFGH`, the form the contract answers. */
export function formatPairingCode(code: string): string {
  const plain = code.replace('-', '').toUpperCase();
  return `${plain.slice(0, 4)}-${plain.slice(4)}`;
}

/** A `limit` query parameter: an integer 1..500 in a query string (every listing route takes one). */
export const limitQuerySchema = z
  .string()
  .regex(/^\d{1,3}$/, 'must be an integer from 1 to 500')
  .transform(Number)
  .pipe(z.number().int().min(1, 'must be at least 1').max(500, 'must be at most 500'));

export const messagesQuerySchema = z.strictObject({ limit: limitQuerySchema.optional() });
export const defaultMessagesLimit = 50;

export const sessionsQuerySchema = z.strictObject({
  limit: limitQuerySchema.optional(),
  cursor: z.string().max(200, 'must be a cursor this service gave').optional(),
});
export const defaultSessionsLimit = 100;

/** Parses `input` or throws a ValidationError whose `fields` name each path (prefixed) and what is wrong. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, pathPrefix = ''): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ValidationError(describeIssues(parsed.error, pathPrefix));
}

export function describeIssues(error: z.ZodError, pathPrefix = ''): Array<{ path: string; message: string }> {
  return error.issues.flatMap((issue) => {
    const path = [pathPrefix, ...issue.path.map(String)].filter((part) => part !== '').join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: path === '' ? key : `${path}.${key}`,
        message: 'is not a field of this route',
      }));
    }
    return [{ path: path === '' ? '(root)' : path, message: issue.message }];
  });
}
