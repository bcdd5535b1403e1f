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

/**
 * Received or sent media as events and histories carry it: metadata only (bytes never travel through Redis or in
 * frames); `url` is the download route of this service.
 */
export const mediaSchema = z.object({
  mimetype: z.string(),
  filename: z.string().nullable(),
  /** Bytes, where WhatsApp tells before a download. */
  size: z.number().int().nonnegative().nullable(),
  url: z.string().meta({ example: '/api/messages/alice/message/false_15551234567%40c.us_3EB0C0FFEE/media' }),
}).meta({ id: 'Media' });
export type Media = z.infer<typeof mediaSchema>;

export const messageLocationSchema = z.object({
  latitude: z.number(),
  longitude: z.number(),
  name: z.string().nullable(),
  address: z.string().nullable(),
}).meta({ id: 'Location' });
export type MessageLocation = z.infer<typeof messageLocationSchema>;

/** Where a message's media is downloaded: the route of this service, the message id percent-encoded. */
export function mediaUrlOf(sessionId: string, messageId: string): string {
  return `/api/messages/${sessionId}/message/${encodeURIComponent(messageId)}/media`;
}

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
  /**
   * The three below are optional on input only, so that messages stored before they existed still parse; every
   * answer and event carries them (null when absent).
   */
  /** The message this one quotes (a reply), by id. */
  quotedMessageId: z.string().nullable().default(null),
  media: mediaSchema.nullable().default(null),
  location: messageLocationSchema.nullable().default(null),
}).meta({ id: 'Message' });
export type Message = z.output<typeof messageSchema>;

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
/**
 * A message id as WhatsApp serializes it (`true_15551234567@c.us_3EB0…`, groups add `_<participant>`); in a path it
 * is percent-encoded. Letters, digits and `@ . _ - :` only: nothing that could change the meaning of a path.
 */
export const messageIdSchema = z
  .string()
  .max(256, 'must be at most 256 characters')
  .regex(/^(?:true|false)_[A-Za-z0-9@._:-]{1,250}$/, 'must be a message id this service gave (true_… or false_…)');

export const maxMediaDataBytes = 4 * 1024 * 1024;
/** The send route takes media inline (base64 of up to 4 MB): its body limit is larger than the others'. */
export const maxSendBodyBytes = 6 * 1024 * 1024;
const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/;

/** Bytes that `data` decodes to (base64 without whitespace), or -1 when it is not base64. */
export function base64DecodedLength(data: string): number {
  if (data.length % 4 !== 0 || !base64Pattern.test(data)) return -1;
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return (data.length / 4) * 3 - padding;
}

export const sendMediaSchema = z
  .strictObject({
    url: z.string().max(2048, 'must be at most 2048 characters').optional().meta({
      description: 'Fetched by the service (http(s), no private addresses unless `MEDIA_FETCH_ALLOW_PRIVATE=true`), up to `MEDIA_MAX_BYTES`.',
      example: 'https://example.com/cat.jpg',
    }),
    data: z
      .string()
      .max(Math.ceil(maxMediaDataBytes / 3) * 4, `must decode to at most ${maxMediaDataBytes} bytes`)
      .optional()
      .meta({ description: 'The file itself, base64 (no `data:` prefix), up to 4 MB decoded.' }),
    mimetype: z
      .string()
      .max(128, 'must be at most 128 characters')
      .regex(/^[A-Za-z0-9][\w.+-]*\/[A-Za-z0-9][\w.+-]*(?:;\s*[\w.+-]+=[\w.+-]+)*$/, 'must be a MIME type such as image/jpeg')
      .meta({ example: 'image/jpeg' }),
    filename: z.string().min(1, 'must not be empty').max(255, 'must be at most 255 characters').optional(),
    caption: textSchema.optional(),
    asVoice: z.boolean().optional().meta({ description: 'Audio only: send as a voice note (`ptt`).' }),
  })
  .superRefine((media, ctx) => {
    if ((media.url === undefined) === (media.data === undefined)) {
      ctx.addIssue({ code: 'custom', path: [], message: 'must have exactly one of url and data' });
    }
    if (media.data !== undefined) {
      const bytes = base64DecodedLength(media.data);
      if (bytes < 0) ctx.addIssue({ code: 'custom', path: ['data'], message: 'must be base64 (A-Z a-z 0-9 + /, padded with =)' });
      else if (bytes === 0) ctx.addIssue({ code: 'custom', path: ['data'], message: 'must not be empty' });
      else if (bytes > maxMediaDataBytes) ctx.addIssue({ code: 'custom', path: ['data'], message: `must decode to at most ${maxMediaDataBytes} bytes` });
    }
    if (media.url !== undefined && !/^https?:\/\/[^\s]+$/i.test(media.url)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'must be an http(s) URL' });
    }
    if (media.asVoice === true && !media.mimetype.toLowerCase().startsWith('audio/')) {
      ctx.addIssue({ code: 'custom', path: ['asVoice'], message: 'is for audio only' });
    }
  })
  .meta({ id: 'SendMedia' });
export type SendMedia = z.infer<typeof sendMediaSchema>;

export const sendLocationSchema = z
  .strictObject({
    latitude: z.number().min(-90, 'must be from -90 to 90').max(90, 'must be from -90 to 90'),
    longitude: z.number().min(-180, 'must be from -180 to 180').max(180, 'must be from -180 to 180'),
    name: z.string().min(1).max(256, 'must be at most 256 characters').optional(),
    address: z.string().min(1).max(1024, 'must be at most 1024 characters').optional(),
  })
  .meta({ id: 'SendLocation' });

export const sendMessageBodySchema = z
  .strictObject({
    chatId: chatIdSchema,
    text: textSchema.optional(),
    media: sendMediaSchema.optional(),
    location: sendLocationSchema.optional(),
    replyTo: messageIdSchema.optional().meta({ description: 'Quote this message (a reply); it must be in the same chat.' }),
    mentions: z.array(chatIdSchema).max(256, 'must name at most 256 people').optional().meta({ description: 'Groups: people to @-mention.' }),
  })
  .refine((body) => [body?.text, body?.media, body?.location].filter((part) => part !== undefined).length === 1, {
    message: 'must have exactly one of text, media and location',
    // Also when other fields fail (a missing chatId, say): the client learns every problem of its body at once.
    when: () => true,
  });
export type SendMessageBody = z.output<typeof sendMessageBodySchema>;

/** A reaction: one emoji, or `""` to remove the session's reaction. */
export const reactionBodySchema = z.strictObject({
  emoji: z
    .string()
    .max(32, 'must be one emoji')
    .refine(isSingleEmojiOrEmpty, 'must be one emoji, or "" to remove the reaction')
    .meta({ example: '👍' }),
});
export const editMessageBodySchema = z.strictObject({ text: textSchema });
export const deleteMessageQuerySchema = z.strictObject({
  everyone: z.enum(['true', 'false'], 'must be true or false').optional().meta({
    description: '`true`: delete for everyone where WhatsApp allows it (own messages, recently sent), else for this session only.',
  }),
});

/** One grapheme made of emoji code points (with joiners, variation selectors, skin tones, keycaps), or nothing. */
export function isSingleEmojiOrEmpty(text: string): boolean {
  if (text === '') return true;
  if (!/^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\p{Emoji_Modifier}|\u200d|\ufe0f|\u20e3)+$/u.test(text)) return false;
  if (!/\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3/u.test(text)) return false;
  return [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(text)].length === 1;
}
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

export const messagesQuerySchema = z.strictObject({
  limit: limitQuerySchema.optional(),
  before: messageIdSchema.optional().meta({ description: 'Page back: the messages before this one (a `nextBefore` of an earlier page).' }),
});
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
