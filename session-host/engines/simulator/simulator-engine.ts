/**
 * The `simulator` engine: WhatsApp sessions that live in a network simulated by the session hosts themselves
 * (see simulated-network.ts), for local sandboxes and tests. It follows the contract's "simulator engine" section:
 * a fresh QR every `qrRotateMs`, a scan by route or after `autoScanMs`, messages between simulated sessions with
 * acks sent → delivered → read, and outside numbers that reach `delivered` and stay there.
 *
 * The login (phone number and name) is kept in DATA_DIR/simulator-<sessionId>/auth.json, as the real engine keeps
 * its browser profile there, so a logged-in session comes back connected after a restart without a scan. Chats,
 * history and contacts are kept in memory only: a simulated network has no server to sync them back from.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ServiceError } from '../../../contract/errors.js';
import type { Ack, Chat, Contact, Me, Message } from '../../../contract/api.js';
import { numberOfChatId } from '../../../contract/api.js';
import type { SimulatedWireMessage } from '../../../contract/commands.js';
import type { Logger } from '../../../lib/logger.js';
import type { Engine, EngineListener, EngineSession, EngineSessionOptions } from '../engine.js';
import type { SimulatedNetwork } from './simulated-network.js';

export interface SimulatorEngineOptions {
  network: SimulatedNetwork;
  dataDir: string;
  autoScanMs: number;
  qrRotateMs: number;
  readAfterMs: number;
  logger: Logger;
}

/** What only the simulator can do: the routes under /api/simulator and the traffic between simulated hosts. */
export interface SimulatorControls {
  scan(phone?: string): Promise<void>;
  injectIncoming(from: string, text: string): Promise<Message>;
  receive(message: SimulatedWireMessage): Promise<void>;
  applyAck(messageId: string, chatId: string, ack: Ack): void;
}

export type SimulatedEngineSession = EngineSession & SimulatorControls;

export function isSimulatorSession(session: EngineSession): session is SimulatedEngineSession {
  return session instanceof SimulatedSession;
}

export function createSimulatorEngine(options: SimulatorEngineOptions): Engine {
  return {
    name: 'simulator',
    openSession: (sessionOptions) => new SimulatedSession(options, sessionOptions),
    close: async () => undefined,
  };
}

/** Kept per chat; older messages fall off so that a long-running sandbox does not grow without bound. */
const maxMessagesPerChat = 1_000;
/** An outside number "receives" a message this long after it was sent. */
const outsideDeliveryMs = 50;

const ackRank: Record<Ack, number> = { failed: -1, pending: 0, sent: 1, delivered: 2, read: 3, played: 4 };

interface SimulatorAuth {
  phone: string;
  pushName: string;
}

interface ChatState {
  id: string;
  name: string;
  unreadCount: number;
  messages: Message[];
}

type Phase = 'stopped' | 'qr' | 'connected';

class SimulatedSession implements EngineSession, SimulatorControls {
  private readonly sessionId: string;
  private readonly listener: EngineListener;
  private readonly logger: Logger;
  private readonly authFile: string;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly chats = new Map<string, ChatState>();
  private readonly contacts = new Map<string, Contact>();
  /** The session's own messages by id, for acks (a scan of the chat per ack costs too much under load). */
  private readonly sentById = new Map<string, Message>();
  private phase: Phase = 'stopped';
  private me: Me | null = null;
  private phone: string | null = null;
  /** Sent messages on their way into the network, in order. */
  private outbox: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: SimulatorEngineOptions,
    sessionOptions: EngineSessionOptions,
  ) {
    this.sessionId = sessionOptions.sessionId;
    this.listener = sessionOptions.listener;
    this.logger = options.logger.child({ sessionId: this.sessionId, engine: 'simulator' });
    // `simulator-` keeps it apart from the webjs engine's `session-<id>` folders when both share one DATA_DIR.
    this.authFile = path.join(options.dataDir, `simulator-${this.sessionId}`, 'auth.json');
  }

  async start(): Promise<void> {
    this.clearTimers();
    const auth = await this.readAuth();
    if (auth !== null && (await this.options.network.claimPhone(auth.phone, this.sessionId))) {
      this.phase = 'connected';
      this.login(auth);
      return;
    }
    this.phase = 'qr';
    this.showQr();
    this.every(this.options.qrRotateMs, () => this.showQr());
    if (this.options.autoScanMs > 0) {
      this.after(this.options.autoScanMs, () => {
        this.scan().catch((error: unknown) => this.logger.warn({ err: error }, 'auto-scan failed'));
      });
    }
  }

  async stop(): Promise<void> {
    this.clearTimers();
    this.phase = 'stopped';
  }

  async logout(): Promise<void> {
    await this.stop();
    if (this.phone !== null) await this.options.network.releasePhone(this.phone, this.sessionId);
    await rm(path.dirname(this.authFile), { recursive: true, force: true });
    this.chats.clear();
    this.contacts.clear();
    this.sentById.clear();
    this.me = null;
    this.phone = null;
  }

  async scan(phone?: string): Promise<void> {
    if (this.phase !== 'qr') {
      throw new ServiceError('QR_NOT_AVAILABLE', 'There is no QR to scan: the session is not waiting for one.');
    }
    const number = phone ?? (await this.freePhone());
    if (!(await this.options.network.claimPhone(number, this.sessionId))) {
      throw new ServiceError('PHONE_IN_USE', `The number ${number} belongs to another simulated session.`, {
        details: { phone: number },
      });
    }
    if (this.phase !== 'qr') {
      // Stopped while the number was being claimed.
      await this.options.network.releasePhone(number, this.sessionId);
      throw new ServiceError('QR_NOT_AVAILABLE', 'The session stopped waiting for a QR scan.');
    }
    const auth: SimulatorAuth = { phone: number, pushName: `Sim ${this.sessionId}` };
    await mkdir(path.dirname(this.authFile), { recursive: true });
    await writeFile(this.authFile, JSON.stringify(auth), { mode: 0o600 });
    this.clearTimers();
    this.phase = 'connected';
    this.login(auth);
  }

  async sendText(chatId: string, text: string): Promise<Message> {
    const me = this.requireConnected();
    const wireId = randomBytes(10).toString('hex').toUpperCase();
    const message: Message = {
      id: `true_${chatId}_${wireId}`,
      chatId,
      from: me.id,
      to: chatId,
      fromMe: true,
      type: 'chat',
      body: text,
      timestamp: new Date().toISOString(),
      ack: 'sent',
    };
    this.store(chatId, message, { unread: false });
    // The network carries it after the answer, as WhatsApp's servers do once they have taken a message; the
    // outbox keeps this session's messages in the order they were sent.
    this.outbox = this.outbox
      .then(() => this.transmit(message, wireId, me))
      .catch((error: unknown) => this.logger.warn({ err: error, messageId: message.id }, 'the simulated network lost a message'));
    return { ...message };
  }

  /** Hands a sent message to the network: to the simulated session that has the number, or to "outside". */
  private async transmit(message: Message, wireId: string, me: Me): Promise<void> {
    const chatId = message.chatId;
    const receiver = chatId.endsWith('@c.us') ? await this.options.network.sessionOfPhone(numberOfChatId(chatId)) : null;
    if (receiver !== null && receiver !== this.sessionId) {
      // A simulated session with no live host keeps the message `sent`, as a phone that is off would.
      await this.options.network.deliver(receiver, {
        id: wireId,
        from: me.id,
        to: chatId,
        body: message.body,
        timestamp: message.timestamp,
        senderSessionId: this.sessionId,
        senderPushName: me.pushName,
      });
    } else if (this.phase === 'connected') {
      this.after(outsideDeliveryMs, () => this.applyAck(message.id, chatId, 'delivered'));
    }
  }

  async receive(wire: SimulatedWireMessage): Promise<void> {
    if (this.phase !== 'connected' || this.me === null) return;
    const message: Message = {
      id: `false_${wire.from}_${wire.id}`,
      chatId: wire.from,
      from: wire.from,
      to: this.me.id,
      fromMe: false,
      type: 'chat',
      body: wire.body,
      timestamp: wire.timestamp,
      ack: 'delivered',
    };
    this.rememberContact(wire.from, wire.senderPushName);
    this.store(wire.from, message, { unread: true });
    this.listener.onMessage({ ...message });
    const senderMessageId = `true_${wire.to}_${wire.id}`;
    await this.options.network.sendAck(wire.senderSessionId, { messageId: senderMessageId, chatId: wire.to, ack: 'delivered' });
    this.after(this.options.readAfterMs, () => {
      const chat = this.chats.get(wire.from);
      if (chat !== undefined) chat.unreadCount = 0;
      this.options.network
        .sendAck(wire.senderSessionId, { messageId: senderMessageId, chatId: wire.to, ack: 'read' })
        .catch((error: unknown) => this.logger.warn({ err: error }, 'could not send a read receipt'));
    });
  }

  async injectIncoming(from: string, text: string): Promise<Message> {
    const me = this.requireConnected();
    const message: Message = {
      id: `false_${from}_${randomBytes(10).toString('hex').toUpperCase()}`,
      chatId: from,
      from,
      to: me.id,
      fromMe: false,
      type: 'chat',
      body: text,
      timestamp: new Date().toISOString(),
      ack: 'delivered',
    };
    this.rememberContact(from, '');
    this.store(from, message, { unread: true });
    this.listener.onMessage({ ...message });
    return { ...message };
  }

  applyAck(messageId: string, chatId: string, ack: Ack): void {
    const message = this.sentById.get(messageId);
    if (message === undefined || message.chatId !== chatId || ackRank[ack] <= ackRank[message.ack]) return;
    message.ack = ack;
    this.listener.onAck({ messageId, chatId, ack });
  }

  async listChats(): Promise<Chat[]> {
    return [...this.chats.values()]
      .map((chat): Chat => {
        const last = chat.messages.at(-1) ?? null;
        return {
          id: chat.id,
          name: chat.name,
          isGroup: chat.id.endsWith('@g.us'),
          unreadCount: chat.unreadCount,
          timestamp: last?.timestamp ?? new Date(0).toISOString(),
          lastMessage: last === null ? null : { ...last },
        };
      })
      .sort((a, b) => b.timestamp.localeCompare(a.timestamp));
  }

  async listMessages(chatId: string, limit: number): Promise<Message[]> {
    return (this.chats.get(chatId)?.messages.slice(-limit) ?? []).map((message) => ({ ...message }));
  }

  async listContacts(): Promise<Contact[]> {
    return [...this.contacts.values()].map((contact) => ({ ...contact }));
  }

  private login(auth: SimulatorAuth): void {
    this.phone = auth.phone;
    this.me = { id: `${auth.phone}@c.us`, pushName: auth.pushName };
    const me = this.me;
    this.listener.onStatus({ status: 'authenticated' });
    this.listener.onStatus({ status: 'connected', me });
  }

  private showQr(): void {
    const code = `2@${randomBytes(24).toString('base64')},${randomBytes(16).toString('base64')},sim-${this.sessionId}`;
    this.listener.onStatus({ status: 'qr', qr: code });
  }

  private requireConnected(): Me {
    if (this.phase !== 'connected' || this.me === null) {
      throw new ServiceError('SESSION_NOT_CONNECTED', 'The simulated session is not connected.');
    }
    return this.me;
  }

  private store(chatId: string, message: Message, { unread }: { unread: boolean }): void {
    let chat = this.chats.get(chatId);
    if (chat === undefined) {
      chat = { id: chatId, name: this.contacts.get(chatId)?.name || numberOfChatId(chatId), unreadCount: 0, messages: [] };
      this.chats.set(chatId, chat);
    }
    chat.messages.push(message);
    if (message.fromMe) this.sentById.set(message.id, message);
    if (chat.messages.length > maxMessagesPerChat) {
      for (const dropped of chat.messages.splice(0, chat.messages.length - maxMessagesPerChat)) this.sentById.delete(dropped.id);
    }
    if (unread) chat.unreadCount += 1;
  }

  private rememberContact(chatId: string, pushName: string): void {
    const existing = this.contacts.get(chatId);
    const name = pushName || existing?.name || numberOfChatId(chatId);
    this.contacts.set(chatId, {
      id: chatId,
      name,
      pushName: pushName || existing?.pushName || '',
      number: numberOfChatId(chatId),
      isMyContact: false,
      isGroup: chatId.endsWith('@g.us'),
    });
    const chat = this.chats.get(chatId);
    if (chat !== undefined) chat.name = name;
  }

  private async freePhone(): Promise<string> {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      // 1-555-01xx-xxxx: numbers set aside for fiction, never a real subscriber.
      const phone = `155501${String(Math.floor(Math.random() * 100_000)).padStart(5, '0')}`;
      if ((await this.options.network.sessionOfPhone(phone)) === null) return phone;
    }
    throw new ServiceError('INTERNAL', 'Could not find a free simulated phone number.');
  }

  private async readAuth(): Promise<SimulatorAuth | null> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.authFile, 'utf8'));
      if (
        typeof parsed === 'object' &&
        parsed !== null &&
        'phone' in parsed &&
        'pushName' in parsed &&
        typeof parsed.phone === 'string' &&
        typeof parsed.pushName === 'string'
      ) {
        return { phone: parsed.phone, pushName: parsed.pushName };
      }
      this.logger.warn('ignored a simulator login file that does not parse');
      return null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.warn({ err: error }, 'could not read the simulator login');
      return null;
    }
  }

  private after(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  private every(ms: number, run: () => void): void {
    this.timers.add(setInterval(run, ms));
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
