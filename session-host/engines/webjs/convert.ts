/** whatsapp-web.js objects → the contract's shapes (contract/api.ts). Times become ISO-8601 UTC strings. */
import type WAWebJS from 'whatsapp-web.js';
import {
  identityOf,
  isLid,
  mediaUrlOf,
  numberOfChatId,
  type Ack,
  type Chat,
  type Contact,
  type Identity,
  type Me,
  type Media,
  type Message,
  type MessageLocation,
} from '../../../contract/api.js';
import { normaliseMsgKey } from './msgkey-shim.js';

/** What is known beside an id: its LID and its phone (digits), each null when WhatsApp has not told. */
export interface KnownIdentity {
  lid: string | null;
  phone: string | null;
}

/** Looks up what the engine has learnt of an id (LID ↔ phone); undefined when nothing. */
export type IdentityLookup = (id: string) => KnownIdentity | undefined;

const knowNothing: IdentityLookup = () => undefined;

/** The identity of a person's id with what is known of it. */
export function identityWith(id: string, known: IdentityLookup): Identity {
  const found = known(id);
  return identityOf(id, found === undefined ? {} : { lid: found.lid, phone: found.phone });
}

/** The serialized id of a message, whatever the WhatsApp Web build calls the key's field (see msgkey-shim.ts). */
export function messageIdOf(message: WAWebJS.Message): string {
  return normaliseMsgKey(message.id);
}

/** whatsapp-web.js's MessageAck (-1..4) → the contract's names. */
export function ackName(ack: number | undefined): Ack {
  switch (ack) {
    case -1:
      return 'failed';
    case 0:
      return 'pending';
    case 1:
      return 'sent';
    case 2:
      return 'delivered';
    case 3:
      return 'read';
    case 4:
      return 'played';
    default:
      return typeof ack === 'number' && ack > 4 ? 'played' : 'pending';
  }
}

/** The rank of an ack, to report only moves forward (failed counts as the end). */
export function ackRank(ack: Ack): number {
  return { pending: 0, sent: 1, delivered: 2, read: 3, played: 4, failed: 5 }[ack];
}

function isoFromSeconds(seconds: number | undefined): string {
  const ms = typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
  return new Date(ms).toISOString();
}

type IdLike = string | { _serialized?: string } | null | undefined;

export function serialized(id: IdLike): string {
  if (typeof id === 'string') return id;
  return id?._serialized ?? '';
}

/** The chat a message belongs to: the key's `remote` (for groups the group, not the participant). */
export function chatIdOf(message: WAWebJS.Message): string {
  const remote = serialized(message.id.remote as IdLike);
  if (remote !== '') return remote;
  return message.fromMe ? serialized(message.to) : serialized(message.from);
}

/**
 * Types that are not messages a person wrote: system notices, encryption notices, revoked placeholders, protocol
 * messages. They are never reported as incoming messages.
 */
export const nonMessageTypeList: readonly string[] = [
  'e2e_notification',
  'notification',
  'notification_template',
  'gp2',
  'protocol',
  'ciphertext',
  'revoked',
  'broadcast_notification',
  'call_log',
];
const nonMessageTypes = new Set(nonMessageTypeList);

export function isPersonMessage(message: WAWebJS.Message): boolean {
  if (nonMessageTypes.has(message.type)) return false;
  if (message.isStatus || chatIdOf(message) === 'status@broadcast') return false;
  return true;
}

/** WhatsApp's message types that carry a file (downloadable while WhatsApp keeps it). */
export const mediaMessageTypes: ReadonlySet<string> = new Set(['image', 'video', 'audio', 'ptt', 'document', 'sticker']);

/** The page's message data behind a library Message (what `getMessageModel` gave). */
export function rawDataOf(message: WAWebJS.Message): Record<string, unknown> {
  const data = (message as unknown as { _data?: unknown })._data;
  return data !== null && typeof data === 'object' ? (data as Record<string, unknown>) : {};
}

/** A chat, contact or quoted id as whatsapp-web.js hands it: a string, or a Wid object with `_serialized`; else ''. */
export function serializedId(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') {
    const inner = (value as { _serialized?: unknown })._serialized;
    if (typeof inner === 'string') return inner;
  }
  return '';
}

/**
 * The id of the message a reply quotes, in the serialized form of the quoted message's own key: WhatsApp keeps the
 * quoted stanza id and its sender (`quotedParticipant`), and the chat when it is another (`quotedRemoteJid`).
 */
export function quotedMessageIdOf(data: Record<string, unknown>, chatId: string, me: Me | null): string | null {
  const stanzaId = data.quotedStanzaID;
  if (typeof stanzaId !== 'string' || stanzaId === '') return null;
  const remote = serializedId(data.quotedRemoteJid) || chatId;
  const participant = serializedId(data.quotedParticipant);
  const fromMe = participant !== '' && me !== null && (participant === me.id || (me.lid !== null && participant === me.lid));
  const suffix = remote.endsWith('@g.us') && participant !== '' ? `_${participant}` : '';
  return `${fromMe}_${remote}_${stanzaId}${suffix}`;
}

function locationOf(message: WAWebJS.Message): MessageLocation | null {
  if (message.type !== 'location') return null;
  const location = message.location as { latitude?: unknown; longitude?: unknown; name?: unknown; address?: unknown } | undefined;
  const latitude = Number(location?.latitude);
  const longitude = Number(location?.longitude);
  if (!Number.isFinite(latitude) || !Number.isFinite(longitude)) return null;
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
  return { latitude, longitude, name: text(location?.name), address: text(location?.address) };
}

function mediaOf(type: string, data: Record<string, unknown>, sessionId: string, messageId: string): Media | null {
  if (!mediaMessageTypes.has(type)) return null;
  const size = Number(data.size);
  return {
    mimetype: typeof data.mimetype === 'string' && data.mimetype !== '' ? data.mimetype : 'application/octet-stream',
    filename: typeof data.filename === 'string' && data.filename !== '' ? data.filename : null,
    size: Number.isInteger(size) && size >= 0 ? size : null,
    url: mediaUrlOf(sessionId, messageId),
  };
}

/** What a message says: its text; the caption of media; nothing for a location (its body is a thumbnail). */
function bodyOf(message: WAWebJS.Message, type: string, data: Record<string, unknown>): string {
  if (mediaMessageTypes.has(type)) return typeof data.caption === 'string' ? data.caption : '';
  if (type === 'location') return '';
  return typeof message.body === 'string' ? message.body : '';
}

export interface MessageContext {
  /** The session the message belongs to: media URLs name it. */
  sessionId?: string;
  /** The ack to report instead of the message's own. */
  ack?: Ack;
  /** The session's account: the sender of its own messages. */
  me?: Me | null;
  known?: IdentityLookup;
}

export function toMessage(message: WAWebJS.Message, context: MessageContext = {}): Message {
  const fromMe = Boolean(message.fromMe);
  const from = serialized(message.from);
  const me = context.me ?? null;
  const known = context.known ?? knowNothing;
  // Who wrote it: for the session's own messages the account; else the group participant or the chat's person.
  const senderId = fromMe && me !== null && me.id !== '' ? me.id : serialized(message.author as IdLike) || from;
  const sender =
    fromMe && me !== null && me.id !== '' ? identityOf(me.id, { lid: me.lid ?? null }) : identityWith(senderId, known);
  const id = messageIdOf(message);
  const chatId = chatIdOf(message);
  const type = String(message.type ?? '') || 'chat';
  const data = rawDataOf(message);
  return {
    id,
    chatId,
    from,
    to: serialized(message.to),
    fromMe,
    type,
    body: bodyOf(message, type, data),
    timestamp: isoFromSeconds(message.timestamp),
    ack: context.ack ?? ackName(message.ack),
    sender,
    quotedMessageId: quotedMessageIdOf(data, chatId, me),
    media: mediaOf(type, data, context.sessionId ?? '', id),
    location: locationOf(message),
  };
}

/** LID and phone of a chat or contact id: a phone id tells its number, a LID itself; the rest from `known`. */
function lidAndPhone(id: string, known: IdentityLookup): KnownIdentity {
  if (!isLid(id) && !id.endsWith('@c.us')) return { lid: null, phone: null };
  const identity = identityWith(id, known);
  return { lid: identity.lid, phone: identity.phone };
}

export function toChat(chat: WAWebJS.Chat, context: Omit<MessageContext, 'ack'> = {}): Chat {
  const id = serialized(chat.id as IdLike);
  const lastMessage = chat.lastMessage ? toMessage(chat.lastMessage, context) : null;
  const seconds = chat.timestamp || (chat.lastMessage?.timestamp ?? 0);
  return {
    id,
    name: typeof chat.name === 'string' && chat.name !== '' ? chat.name : (id.split('@')[0] ?? id),
    isGroup: Boolean(chat.isGroup),
    // WhatsApp marks a chat "unread" with -1.
    unreadCount: Math.max(0, Math.trunc(Number(chat.unreadCount) || 0)),
    timestamp: isoFromSeconds(seconds),
    lastMessage,
    ...lidAndPhone(id, context.known ?? knowNothing),
  };
}

export function toContact(contact: WAWebJS.Contact, known: IdentityLookup = knowNothing): Contact {
  const id = serialized(contact.id as IdLike);
  const identities = lidAndPhone(id, known);
  // A LID's digits are not a phone number: a LID contact's number is its phone when known, else empty.
  const number = isLid(id)
    ? (identities.phone ?? '')
    : typeof contact.number === 'string' && contact.number !== ''
      ? contact.number
      : numberOfChatId(id);
  const pushName = typeof contact.pushname === 'string' ? contact.pushname : '';
  const name =
    [contact.name, contact.shortName, contact.pushname].find((n): n is string => typeof n === 'string' && n !== '') ??
    (number || numberOfChatId(id));
  return {
    id,
    name,
    pushName,
    number,
    isMyContact: Boolean(contact.isMyContact),
    isGroup: Boolean(contact.isGroup),
    ...identities,
  };
}

/** Contacts worth listing: people and groups; not broadcast lists, channels or the status feed. */
export function isListedContact(contact: WAWebJS.Contact): boolean {
  const id = serialized(contact.id as IdLike);
  return /@(c\.us|g\.us|lid)$/.test(id);
}

/** Newest first, by last activity. */
export function byNewestFirst(a: Chat, b: Chat): number {
  return b.timestamp.localeCompare(a.timestamp);
}
