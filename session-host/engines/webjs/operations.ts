/**
 * The webjs engine's operations on a session: send (text, media, location; replies and mentions), chats, history
 * (paged with `before`), contacts, contact lookup, pairing code, media download, reactions, edits, deletes, read
 * receipts. Operations on one message find it first (MESSAGE_NOT_FOUND when the page knows no such id), then go
 * through the library's own Message methods, so that its page code (and its fixes) is what runs. Every
 * page call is bounded by the engine's own operation timeout and by the caller's deadline (`signal`), whichever
 * comes first, with its timer cleared on every path; the one exception is a send once it has begun (see `send`).
 */
import wwebjs from 'whatsapp-web.js';
import type WAWebJS from 'whatsapp-web.js';
import { formatPairingCode, isLid, numberOfChatId, type Chat, type Contact, type Me, type Message } from '../../../contract/api.js';
import {
  MediaNotFoundError,
  MessageNotEditableError,
  MessageNotFoundError,
  RecipientNotOnWhatsAppError,
  ServiceError,
  SessionNotConnectedError,
  ValidationError,
} from '../../../contract/errors.js';
import { withTimeout } from '../../../lib/async.js';
import type { Logger } from '../../../lib/logger.js';
import type {
  CallOptions,
  ChatOptions,
  DownloadedMedia,
  EditOptions,
  GetContactOptions,
  ListMessagesOptions,
  MessageOptions,
  OutgoingContent,
  PairingCodeOptions,
  ReactOptions,
  RevokeOptions,
  SendOptions,
} from '../engine.js';
import { MessageStructure } from './client-factory.js';
import {
  ackName,
  ackRank,
  byNewestFirst,
  isListedContact,
  isPersonMessage,
  mediaMessageTypes,
  messageIdOf,
  nonMessageTypeList,
  serializedId,
  toChat,
  toContact,
  toMessage,
} from './convert.js';
import { messageOf, operationError } from './errors.js';
import type { KnownIdentities } from './identities.js';
import type { InboundDedup } from './inbound-dedup.js';

/** What the operations need of their session. */
export interface OperationsContext {
  sessionId: string;
  log: Logger;
  operationTimeoutMs: number;
  /** The client of a connected session; throws SessionNotConnectedError otherwise. */
  connectedClient(): WAWebJS.Client;
  /** The client while the session shows a QR; throws QR_NOT_AVAILABLE otherwise. */
  clientShowingQr(): WAWebJS.Client;
  me(): Me | null;
  identities: KnownIdentities;
  inbound: InboundDedup;
}

export class WebjsOperations {
  constructor(private readonly session: OperationsContext) {}

  private context() {
    return { sessionId: this.session.sessionId, me: this.session.me(), known: this.session.identities.lookup };
  }

  private async call<T>(what: string, work: (client: WAWebJS.Client) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const client = this.session.connectedClient();
    const { operationTimeoutMs: timeoutMs, sessionId } = this.session;
    try {
      return await withTimeout(work(client), { timeoutMs, what, signal });
    } catch (error) {
      throw operationError(error, { sessionId, signal, timeoutMessage: `WhatsApp Web did not finish ${what} within ${timeoutMs} ms.` });
    }
  }

  /**
   * Where a send may go, decided before anything is sent: an existing chat; a phone id or LID that WhatsApp says is
   * on it (resolved to the id WhatsApp gives); anything else is refused and nothing is sent.
   */
  private async resolveRecipient(client: WAWebJS.Client, chatId: string): Promise<string> {
    const page = client.pupPage;
    if (!page) throw new SessionNotConnectedError(this.session.sessionId, 'disconnected');
    const answer = await page.evaluate(async (id: string) => {
      type WidLike = { _serialized?: unknown; server?: unknown } | null | undefined;
      type Win = {
        require(name: 'WAWebWidFactory'): { createWid(id: string): WidLike };
        require(name: 'WAWebCollections'): { Chat: { get(wid: WidLike): unknown } };
        require(name: 'WAWebQueryExistsJob'): { queryWidExists(wid: WidLike): Promise<{ wid?: WidLike } | null | undefined> };
      };
      const win = window as unknown as Win;
      const wid = win.require('WAWebWidFactory').createWid(id);
      if (!wid) return { kind: 'invalid' as const };
      if (win.require('WAWebCollections').Chat.get(wid)) return { kind: 'chat' as const, id };
      if (wid.server !== 'c.us' && wid.server !== 'lid') return { kind: 'no-chat' as const };
      const result = await win.require('WAWebQueryExistsJob').queryWidExists(wid);
      if (!result?.wid) return { kind: 'not-on-whatsapp' as const };
      const resolved = result.wid._serialized;
      return { kind: 'registered' as const, id: typeof resolved === 'string' ? resolved : id };
    }, chatId);
    switch (answer.kind) {
      case 'chat':
      case 'registered':
        return answer.id;
      case 'not-on-whatsapp':
        throw new RecipientNotOnWhatsAppError(chatId);
      default:
        throw new ValidationError([{ path: 'chatId', message: 'is not a chat this WhatsApp account can reach' }]);
    }
  }

  async send({ chatId, content, replyTo, mentions, signal }: SendOptions): Promise<Message> {
    const { log, operationTimeoutMs } = this.session;
    // Before the send: refusals here are sure to have sent nothing (the library would send a reply to an unknown
    // message without its quote, silently: `ignoreQuoteErrors`).
    if (replyTo !== undefined) await this.call('finding the quoted message', (client) => this.findMessage(client, replyTo), signal);
    const target = await this.call('resolving the recipient', (client) => this.resolveRecipient(client, chatId), signal);
    const { payload, options } = libraryContent(content);
    if (replyTo !== undefined) options.quotedMessageId = replyTo;
    if (mentions !== undefined && mentions.length > 0) options.mentions = [...mentions];
    const client = this.session.connectedClient();
    const unknownOutcome = (why: string, cause?: unknown) =>
      new ServiceError(
        'SEND_OUTCOME_UNKNOWN',
        `The message to ${chatId} may have been sent: ${why}. It is not sent again on a retry with the same Idempotency-Key.`,
        { details: { chatId }, cause },
      );
    let sent: WAWebJS.Message | undefined;
    try {
      // sendSeen: false — sending through the API does not mark the chat as read on the phone.
      // Once begun, a send is waited for up to the engine's own bound even past the caller's deadline: its outcome
      // decides what the send ledger records (a message, or an unknown outcome that is never sent again).
      sent = (await withTimeout(
        client.sendMessage(target, payload, options) as Promise<WAWebJS.Message | undefined>,
        { timeoutMs: operationTimeoutMs, what: 'sending the message' },
      )) ?? undefined;
    } catch (error) {
      log.warn({ err: error, chatId }, 'sending failed after it began; its outcome is unknown');
      throw unknownOutcome(`WhatsApp Web failed while sending (${messageOf(error)})`, error);
    }
    if (!sent || messageIdOf(sent) === '') {
      log.warn({ chatId }, 'whatsapp-web.js gave no message back for a send');
      throw unknownOutcome('WhatsApp Web did not give the sent message back');
    }
    const current = ackName(sent.ack);
    const ack = current === 'failed' || ackRank(current) > ackRank('sent') ? current : 'sent';
    const message = toMessage(sent, { ack, ...this.context() });
    this.session.inbound.sentWithAck(message.id, ack);
    return message;
  }

  async listChats({ signal }: CallOptions = {}): Promise<Chat[]> {
    return this.call('listing chats', async (client) => {
      const chats = (await client.getChats()).filter((chat) => /@(c\.us|g\.us|lid)$/.test(serializedId(chat.id)));
      await this.session.identities.lookUp(client, chats.map((chat) => serializedId(chat.id)));
      return chats.map((chat) => toChat(chat, this.context())).sort(byNewestFirst);
    }, signal);
  }

  async listMessages({ chatId, limit, before, signal }: ListMessagesOptions): Promise<Message[]> {
    return this.call('listing messages', async (client) => {
      // Not Chat.fetchMessages: it sorts with `a.t > b.t ? 1 : -1`, which scrambles messages of the same second
      // (most of a burst) before it cuts to the limit, so it can return the wrong ones. Same steps, stable sort.
      // Only a chat that exists: reading history must not open a chat (nor ask WhatsApp about a number).
      // With `before`: earlier history is loaded from the phone (loadEarlierMsgs) until that message is found, then
      // until `limit` older ones are there or the history ends.
      const page = client.pupPage;
      if (page === undefined) return [];
      const answer = await page.evaluate(
        async (id: string, wanted: number, beforeId: string | null, skipTypes: string[]) => {
          type Model = { t: number; type?: string; isNotification?: boolean; id: { _serialized?: unknown; toString(): string } };
          type ChatModel = { msgs: { getModelsArray(): Model[] } };
          type Win = {
            WWebJS: { getMessageModel(model: Model): unknown };
            require(name: 'WAWebWidFactory'): { createWid(id: string): unknown };
            require(name: 'WAWebCollections'): { Chat: { get(wid: unknown): ChatModel | undefined } };
            require(name: 'WAWebChatLoadMessages'): { loadEarlierMsgs(options: { chat: unknown }): Promise<Model[] | undefined> };
          };
          const win = window as unknown as Win;
          const chat = win.require('WAWebCollections').Chat.get(win.require('WAWebWidFactory').createWid(id));
          if (!chat) return beforeId === null ? { models: [] } : { notFound: true };
          const wantedType = (m: Model) => !m.isNotification && !skipTypes.includes(String(m.type));
          const keyOf = (m: Model) => (typeof m.id._serialized === 'string' ? m.id._serialized : String(m.id));
          let msgs = chat.msgs.getModelsArray().filter(wantedType);
          const loadEarlier = async () => {
            const earlier = await win.require('WAWebChatLoadMessages').loadEarlierMsgs({ chat });
            if (!earlier || earlier.length === 0) return false;
            msgs = [...earlier.filter(wantedType), ...msgs];
            return true;
          };
          const ordered = () =>
            msgs
              .map((m, index) => ({ m, index }))
              .sort((a, b) => a.m.t - b.m.t || a.index - b.index)
              .map(({ m }) => m);
          // How many messages are older than `before` (all of them without it); -1 while it is not loaded.
          const olderCount = () => (beforeId === null ? msgs.length : ordered().findIndex((m) => keyOf(m) === beforeId));
          while (olderCount() < 0) {
            if (!(await loadEarlier())) return { notFound: true };
          }
          while (olderCount() < wanted) {
            if (!(await loadEarlier())) break;
          }
          const list = ordered();
          const end = beforeId === null ? list.length : list.findIndex((m) => keyOf(m) === beforeId);
          return { models: list.slice(Math.max(0, end - wanted), end).map((m) => win.WWebJS.getMessageModel(m)) };
        },
        chatId,
        limit,
        before ?? null,
        [...nonMessageTypeList],
      );
      if ('notFound' in answer) throw new MessageNotFoundError(before ?? '');
      const messages = (answer.models as object[]).map((model) => new MessageStructure(client, model)).filter(isPersonMessage);
      await this.session.identities.lookUp(client, [chatId, ...messages.map((message) => (message.author ?? message.from) || '')]);
      return messages.map((message) => toMessage(message, this.context()));
    }, signal);
  }

  /**
   * The library's Message for a message id the page knows (loaded or in its store); MESSAGE_NOT_FOUND otherwise,
   * and for a message deleted for everyone.
   */
  private async findMessage(client: WAWebJS.Client, messageId: string): Promise<WAWebJS.Message> {
    const page = client.pupPage;
    if (!page) throw new SessionNotConnectedError(this.session.sessionId, 'disconnected');
    const model = await page.evaluate(async (id: string) => {
      type Model = { type?: string };
      type Win = {
        WWebJS: { getMessageModel(model: Model): unknown };
        require(name: 'WAWebCollections'): {
          Msg: { get(id: string): Model | undefined; getMessagesById(ids: string[]): Promise<{ messages?: Model[] } | undefined> };
        };
      };
      const win = window as unknown as Win;
      const { Msg } = win.require('WAWebCollections');
      const msg = Msg.get(id) ?? (await Msg.getMessagesById([id]))?.messages?.[0];
      if (!msg || msg.type === 'revoked') return null;
      return win.WWebJS.getMessageModel(msg);
    }, messageId);
    if (model === null || typeof model !== 'object') throw new MessageNotFoundError(messageId);
    return new MessageStructure(client, model);
  }

  async downloadMedia({ messageId, signal }: MessageOptions): Promise<DownloadedMedia> {
    return this.call('downloading the media', async (client) => {
      const message = await this.findMessage(client, messageId);
      if (!mediaMessageTypes.has(message.type) && !message.hasMedia) throw new MediaNotFoundError(messageId, 'none');
      // No direct path: WhatsApp has no copy of it to give (yet, or any more).
      if (!message.hasMedia) throw new MediaNotFoundError(messageId, 'gone');
      const media = await message.downloadMedia();
      if (!media || typeof media.data !== 'string') throw new MediaNotFoundError(messageId, 'gone');
      const filename = typeof media.filename === 'string' && media.filename !== '' ? media.filename : null;
      return { data: Buffer.from(media.data, 'base64'), mimetype: media.mimetype || 'application/octet-stream', filename };
    }, signal);
  }

  async react({ messageId, emoji, signal }: ReactOptions): Promise<void> {
    await this.call('reacting', async (client) => {
      const message = await this.findMessage(client, messageId);
      await message.react(emoji);
    }, signal);
  }

  async edit({ messageId, text, signal }: EditOptions): Promise<Message> {
    return this.call('editing the message', async (client) => {
      const message = await this.findMessage(client, messageId);
      if (!message.fromMe) throw new MessageNotEditableError(messageId, 'only the session’s own messages can be edited');
      if (message.type !== 'chat') throw new MessageNotEditableError(messageId, 'only text messages can be edited');
      const edited = await message.edit(text);
      // The library answers null when WhatsApp Web says no (its edit window, 15 minutes, has passed).
      if (!edited) throw new MessageNotEditableError(messageId, 'WhatsApp no longer allows editing it');
      return toMessage(edited, this.context());
    }, signal);
  }

  async revoke({ messageId, everyone, signal }: RevokeOptions): Promise<void> {
    await this.call('deleting the message', async (client) => {
      const message = await this.findMessage(client, messageId);
      // For everyone only where WhatsApp Web allows it (the library asks WAWebMsgActionCapability), else for me.
      await message.delete(everyone);
    }, signal);
  }

  async markRead({ chatId, signal }: ChatOptions): Promise<void> {
    await this.call('marking the chat read', async (client) => {
      const page = client.pupPage;
      if (!page) throw new SessionNotConnectedError(this.session.sessionId, 'disconnected');
      // Only a chat that exists (WWebJS.sendSeen would open one); read receipts go to what was unread.
      await page.evaluate(async (id: string) => {
        type Win = {
          WWebJS: { sendSeen(chatId: string): Promise<boolean> };
          require(name: 'WAWebWidFactory'): { createWid(id: string): unknown };
          require(name: 'WAWebCollections'): { Chat: { get(wid: unknown): unknown } };
        };
        const win = window as unknown as Win;
        if (!win.require('WAWebCollections').Chat.get(win.require('WAWebWidFactory').createWid(id))) return false;
        return win.WWebJS.sendSeen(id);
      }, chatId);
    }, signal);
  }

  async listContacts({ signal }: CallOptions = {}): Promise<Contact[]> {
    return this.call('listing contacts', async (client) => {
      const contacts = (await client.getContacts()).filter(isListedContact);
      await this.session.identities.lookUp(client, contacts.map((contact) => serializedId(contact.id)));
      return contacts.map((contact) => toContact(contact, this.session.identities.lookup));
    }, signal);
  }

  async getContact({ contactId, signal }: GetContactOptions): Promise<Contact | null> {
    const { identities, log } = this.session;
    return this.call('looking up the contact', async (client) => {
      if (!contactId.endsWith('@c.us') && !isLid(contactId)) {
        // Groups and the like: what the session's own contact list says, nothing to ask WhatsApp.
        const listed = (await client.getContacts()).find((contact) => serializedId(contact.id) === contactId);
        return listed === undefined ? null : toContact(listed, identities.lookup);
      }
      // WhatsApp's answer for both identities (it asks WhatsApp's servers when it does not know the id yet).
      const [ids] = await client.getContactLidAndPhone([contactId]);
      const lid = typeof ids?.lid === 'string' && ids.lid !== '' ? ids.lid : null;
      const phoneId = typeof ids?.pn === 'string' && ids.pn !== '' ? ids.pn : null;
      if (lid === null && phoneId === null) return null;
      identities.learn(contactId, { lid, phone: phoneId === null ? null : numberOfChatId(phoneId) });
      let contact: WAWebJS.Contact | null = null;
      try {
        contact = await client.getContactById(contactId);
      } catch (error) {
        log.debug({ err: error, contactId }, 'WhatsApp Web has no contact model for this id');
      }
      const converted = contact === null ? null : toContact(contact, identities.lookup);
      const phone = phoneId === null ? null : numberOfChatId(phoneId);
      const fallbackName = phone ?? numberOfChatId(contactId);
      return {
        id: contactId,
        name: converted?.name || fallbackName,
        pushName: converted?.pushName ?? '',
        number: phone ?? '',
        isMyContact: converted?.isMyContact ?? false,
        isGroup: false,
        lid,
        phone,
      };
    }, signal);
  }

  async requestPairingCode({ phone, signal }: PairingCodeOptions): Promise<string> {
    const client = this.session.clientShowingQr();
    const { operationTimeoutMs: timeoutMs, sessionId } = this.session;
    let code: unknown;
    try {
      code = await withTimeout(client.requestPairingCode(phone, true), { timeoutMs, what: 'asking for a pairing code', signal });
    } catch (error) {
      throw operationError(error, { sessionId, signal, timeoutMessage: `WhatsApp Web did not give a pairing code within ${timeoutMs} ms.` });
    }
    if (typeof code !== 'string' || !/^[A-Za-z0-9]{4}-?[A-Za-z0-9]{4}$/.test(code)) {
      throw new ServiceError('INTERNAL', `WhatsApp Web answered a pairing code this engine does not understand: ${String(code)}`);
    }
    // The number is the account's own: only its last two digits are logged (issue 15: no phone numbers in logs).
    this.session.log.info({ phone: maskedPhone(phone) }, 'pairing code issued');
    return formatPairingCode(code);
  }
}

const { MessageMedia, Location } = wwebjs;

/** The library's content and send options for what is sent (sendSeen off: an API send does not read the chat). */
function libraryContent(content: OutgoingContent): {
  payload: string | WAWebJS.MessageMedia | WAWebJS.Location;
  options: WAWebJS.MessageSendOptions & Record<string, unknown>;
} {
  switch (content.kind) {
    case 'text':
      return { payload: content.text, options: { sendSeen: false } };
    case 'media': {
      const { data, mimetype, filename, caption, asVoice } = content.media;
      // The page turns the bytes into a File named so: WhatsApp keeps the name for documents only.
      const media = new MessageMedia(mimetype, data.toString('base64'), filename ?? 'file', data.length);
      return {
        payload: media,
        options: { sendSeen: false, ...(caption !== null && caption !== '' ? { caption } : {}), sendAudioAsVoice: asVoice },
      };
    }
    case 'location': {
      const { latitude, longitude, name, address } = content.location;
      return {
        payload: new Location(latitude, longitude, { ...(name !== null ? { name } : {}), ...(address !== null ? { address } : {}) }),
        options: { sendSeen: false },
      };
    }
  }
}


/** A phone number fit for a log line: all but its last two digits masked (`…••••67`). */
export function maskedPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  return digits.length <= 2 ? '••' : `${'•'.repeat(Math.min(digits.length - 2, 13))}${digits.slice(-2)}`;
}
