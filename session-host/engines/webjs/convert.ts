/** whatsapp-web.js objects → the contract's shapes (contract/api.ts). Times become ISO-8601 UTC strings. */
import type WAWebJS from 'whatsapp-web.js';
import type { Ack, Chat, Contact, Message } from '../../../contract/api.js';

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
const nonMessageTypes = new Set([
  'e2e_notification',
  'notification',
  'notification_template',
  'gp2',
  'protocol',
  'ciphertext',
  'revoked',
  'broadcast_notification',
  'call_log',
]);

export function isPersonMessage(message: WAWebJS.Message): boolean {
  if (nonMessageTypes.has(message.type)) return false;
  if (message.isStatus || chatIdOf(message) === 'status@broadcast') return false;
  return true;
}

export function toMessage(message: WAWebJS.Message, ackOverride?: Ack): Message {
  return {
    id: message.id._serialized,
    chatId: chatIdOf(message),
    from: serialized(message.from),
    to: serialized(message.to),
    fromMe: Boolean(message.fromMe),
    type: String(message.type ?? '') || 'chat',
    body: typeof message.body === 'string' ? message.body : '',
    timestamp: isoFromSeconds(message.timestamp),
    ack: ackOverride ?? ackName(message.ack),
  };
}

export function toChat(chat: WAWebJS.Chat): Chat {
  const id = serialized(chat.id as IdLike);
  const lastMessage = chat.lastMessage ? toMessage(chat.lastMessage) : null;
  const seconds = chat.timestamp || (chat.lastMessage?.timestamp ?? 0);
  return {
    id,
    name: typeof chat.name === 'string' && chat.name !== '' ? chat.name : (id.split('@')[0] ?? id),
    isGroup: Boolean(chat.isGroup),
    // WhatsApp marks a chat "unread" with -1.
    unreadCount: Math.max(0, Math.trunc(Number(chat.unreadCount) || 0)),
    timestamp: isoFromSeconds(seconds),
    lastMessage,
  };
}

export function toContact(contact: WAWebJS.Contact): Contact {
  const id = serialized(contact.id as IdLike);
  const number = typeof contact.number === 'string' && contact.number !== '' ? contact.number : (id.split('@')[0] ?? '');
  const pushName = typeof contact.pushname === 'string' ? contact.pushname : '';
  const name =
    [contact.name, contact.shortName, contact.pushname].find((n): n is string => typeof n === 'string' && n !== '') ??
    number;
  return {
    id,
    name,
    pushName,
    number,
    isMyContact: Boolean(contact.isMyContact),
    isGroup: Boolean(contact.isGroup),
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
