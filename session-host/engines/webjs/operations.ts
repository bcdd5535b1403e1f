/**
 * The webjs engine's operations on a session: send, chats, history, contacts, contact lookup, pairing code. Every
 * page call is bounded by the engine's own operation timeout and by the caller's deadline (`signal`), whichever
 * comes first, with its timer cleared on every path; the one exception is a send once it has begun (see `send`).
 */
import type WAWebJS from 'whatsapp-web.js';
import { formatPairingCode, isLid, numberOfChatId, type Chat, type Contact, type Me, type Message } from '../../../contract/api.js';
import { RecipientNotOnWhatsAppError, ServiceError, SessionNotConnectedError, ValidationError } from '../../../contract/errors.js';
import { withTimeout } from '../../../lib/async.js';
import type { Logger } from '../../../lib/logger.js';
import type { CallOptions, GetContactOptions, ListMessagesOptions, PairingCodeOptions, SendOptions } from '../engine.js';
import { MessageStructure } from './client-factory.js';
import { ackName, ackRank, byNewestFirst, isListedContact, isPersonMessage, messageIdOf, toChat, toContact, toMessage } from './convert.js';
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
    return { me: this.session.me(), known: this.session.identities.lookup };
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

  async send({ chatId, content, signal }: SendOptions): Promise<Message> {
    const { log, operationTimeoutMs } = this.session;
    if (content.kind !== 'text') {
      throw new ServiceError('NOT_SUPPORTED_BY_ENGINE', `The webjs engine cannot send ${content.kind} yet.`, { details: { operation: content.kind } });
    }
    const text = content.text;
    // Before the send: refusals here are sure to have sent nothing.
    const target = await this.call('resolving the recipient', (client) => this.resolveRecipient(client, chatId), signal);
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
        client.sendMessage(target, text, { sendSeen: false }) as Promise<WAWebJS.Message | undefined>,
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

  async listMessages({ chatId, limit, signal }: ListMessagesOptions): Promise<Message[]> {
    return this.call('listing messages', async (client) => {
      // Not Chat.fetchMessages: it sorts with `a.t > b.t ? 1 : -1`, which scrambles messages of the same second
      // (most of a burst) before it cuts to the limit, so it can return the wrong ones. Same steps, stable sort.
      // Only a chat that exists: reading history must not open a chat (nor ask WhatsApp about a number).
      const page = client.pupPage;
      if (page === undefined) return [];
      const models = await page.evaluate(
        async (id: string, wanted: number) => {
          type Model = { t: number; isNotification?: boolean };
          type ChatModel = { msgs: { getModelsArray(): Model[] } };
          type Win = {
            WWebJS: { getMessageModel(model: Model): unknown };
            require(name: 'WAWebWidFactory'): { createWid(id: string): unknown };
            require(name: 'WAWebCollections'): { Chat: { get(wid: unknown): ChatModel | undefined } };
            require(name: 'WAWebChatLoadMessages'): { loadEarlierMsgs(options: { chat: unknown }): Promise<Model[] | undefined> };
          };
          const win = window as unknown as Win;
          const chat = win.require('WAWebCollections').Chat.get(win.require('WAWebWidFactory').createWid(id));
          if (!chat) return [];
          let msgs = chat.msgs.getModelsArray().filter((m) => !m.isNotification);
          while (msgs.length < wanted) {
            const earlier = await win.require('WAWebChatLoadMessages').loadEarlierMsgs({ chat });
            if (!earlier || earlier.length === 0) break;
            msgs = [...earlier.filter((m) => !m.isNotification), ...msgs];
          }
          return msgs
            .map((m, index) => ({ m, index }))
            .sort((a, b) => a.m.t - b.m.t || a.index - b.index)
            .slice(-wanted)
            .map(({ m }) => win.WWebJS.getMessageModel(m));
        },
        chatId,
        limit,
      );
      const messages = (models as object[]).map((model) => new MessageStructure(client, model)).filter(isPersonMessage);
      await this.session.identities.lookUp(client, [chatId, ...messages.map((message) => (message.author ?? message.from) || '')]);
      return messages.map((message) => toMessage(message, this.context()));
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

/** A chat or contact id as whatsapp-web.js hands it: a string, or a Wid object with `_serialized`. */
function serializedId(id: unknown): string {
  if (typeof id === 'string') return id;
  if (id !== null && typeof id === 'object') {
    const inner = (id as { _serialized?: unknown })._serialized;
    if (typeof inner === 'string') return inner;
  }
  return '';
}

/** A phone number fit for a log line: all but its last two digits masked (`…••••67`). */
export function maskedPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  return digits.length <= 2 ? '••' : `${'•'.repeat(Math.min(digits.length - 2, 13))}${digits.slice(-2)}`;
}
