/**
 * The `simulator` engine: WhatsApp sessions that live in a network simulated by the session hosts themselves
 * (see simulated-network.ts), for local sandboxes and tests. It follows the contract's "simulator engine" section:
 * a fresh QR every `qrRotateMs`, a scan by route or after `autoScanMs`, messages between simulated sessions with
 * acks sent → delivered → read, and outside numbers that reach `delivered` and stay there.
 *
 * Every simulated account has a phone number and a LID, as WhatsApp accounts have today. Messages between
 * simulated sessions show the sender by LID, with the phone known only when the two were contacts before (they
 * become contacts once either has messaged the other). Numbers that begin with 1555999 are not on WhatsApp.
 * A pairing code links a session as a scan does: `requestPairingCode(phone)`, then `pair(code)` plays the phone.
 *
 * The login (phone number, LID and name) is kept in DATA_DIR/simulator-<sessionId>/auth.json, as the real engine keeps
 * its browser profile there, so a logged-in session comes back connected after a restart without a scan. Chats,
 * history and contacts are kept in memory only: a simulated network has no server to sync them back from.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import {
  MediaNotFoundError,
  MessageNotEditableError,
  MessageNotFoundError,
  RecipientNotOnWhatsAppError,
  ServiceError,
  ValidationError,
} from '../../../contract/errors.js';
import type { Ack, Chat, Contact, Identity, Me, Message } from '../../../contract/api.js';
import { describeIssues, formatPairingCode, identityOf, isLid, mediaUrlOf, numberOfChatId } from '../../../contract/api.js';
import { collectBytes, type BlobStore } from '../../../lib/blob-store.js';
import type { SimulatedMailItem, SimulatedWireMessage } from '../../../contract/commands.js';
import type { Logger } from '../../../lib/logger.js';
import { simulatorControls, type SimulatorControl } from '../../../contract/simulator.js';
import type {
  ChatOptions,
  DownloadedMedia,
  EditOptions,
  Engine,
  EngineControlContext,
  EngineControls,
  EngineListener,
  EngineSession,
  EngineSessionOptions,
  GetContactOptions,
  ListMessagesOptions,
  MessageOptions,
  OutgoingContent,
  PairingCodeOptions,
  ReactOptions,
  RevokeOptions,
  SendOptions,
} from '../engine.js';
import type { SimulatedAccount, SimulatedNetwork } from './simulated-network.js';

export interface SimulatorEngineOptions {
  network: SimulatedNetwork;
  dataDir: string;
  autoScanMs: number;
  qrRotateMs: number;
  readAfterMs: number;
  logger: Logger;
  /** How often the engine looks for mailbox items no nudge announced (default 1 s). */
  mailboxSweepMs?: number;
  /**
   * The simulated network's media servers: sent media is kept here (by wire id) and downloaded from here by both
   * sides. Without it, media cannot be sent (NOT_SUPPORTED_BY_ENGINE).
   */
  blobs?: Pick<BlobStore, 'get' | 'put'>;
  /** How long the simulated servers keep media (default 30 days, as WhatsApp keeps it for download). */
  mediaTtlMs?: number;
}

/**
 * What only the simulator can do: the routes under /api/simulator and the traffic between simulated hosts. They
 * reach the session as its `controls` (declared in contract/simulator.ts); tests call them directly.
 */
export interface SimulatorControls {
  scan(phone?: string): Promise<void>;
  /** The phone types the pairing code: links the session to the number the code was asked for. */
  pair(code: string): Promise<void>;
  injectIncoming(from: string, text: string): Promise<Message>;
  /** Delivers what waits in the session's mailbox (messages from other simulated sessions, acks), in order. */
  drain(): Promise<void>;
}

export type SimulatedEngineSession = EngineSession & SimulatorControls;

export function isSimulatorSession(session: EngineSession): session is SimulatedEngineSession {
  return session instanceof SimulatedSession;
}

/**
 * A nudge can be missed (its host died, or a session was being adopted when it was sent): every `mailboxSweepMs`
 * the engine delivers what waits for any session it runs.
 */
export function createSimulatorEngine(options: SimulatorEngineOptions): Engine {
  const running = new Map<string, SimulatedSession>();
  let sweeping = false;
  const sweep = async () => {
    if (sweeping || running.size === 0) return;
    sweeping = true;
    try {
      for (const sessionId of await options.network.pendingSessions()) await running.get(sessionId)?.drain();
    } catch (error) {
      options.logger.warn({ err: error }, 'could not sweep the simulated mailboxes');
    } finally {
      sweeping = false;
    }
  };
  const timer = setInterval(() => void sweep(), options.mailboxSweepMs ?? 1_000);
  timer.unref();
  return {
    name: 'simulator',
    openSession: (sessionOptions) =>
      new SimulatedSession(options, sessionOptions, (session, isRunning) => {
        if (isRunning) running.set(session.sessionId, session);
        else if (running.get(session.sessionId) === session) running.delete(session.sessionId);
      }),
    close: async () => clearInterval(timer),
  };
}

/** What identifies a mailbox item, to deliver it at most once to the client even when it is taken twice. */
function itemKeyOf(item: SimulatedMailItem): string {
  switch (item.kind) {
    case 'message':
      return `m:${item.message.senderSessionId}:${item.message.id}`;
    case 'ack':
      return `a:${item.messageId}:${item.ack}`;
    case 'reaction':
    case 'edit':
      return `${item.kind[0]}:${item.wireId}:${item.nonce}`;
    case 'revoke':
      return `r:${item.wireId}`;
  }
}

const defaultMediaTtlMs = 30 * 24 * 3_600_000;

/** WhatsApp's message type for media of this MIME type. */
function mediaTypeOf(mimetype: string, asVoice: boolean): string {
  const kind = mimetype.toLowerCase().split('/')[0];
  if (kind === 'audio') return asVoice ? 'ptt' : 'audio';
  if (kind === 'image' || kind === 'video') return kind;
  return 'document';
}

/** The key of a message's media on the simulated servers: by wire id, which both sides know. */
function mediaBlobKey(wireId: string): string {
  return `simulator/media/${wireId}`;
}

/** The chat in a message id (`true_<chat>_<wire id>`). */
function chatOfMessageId(messageId: string): string {
  return messageId.slice(messageId.indexOf('_') + 1, messageId.lastIndexOf('_'));
}

const mailboxBatch = 50;

/** Kept per chat; older messages fall off so that a long-running sandbox does not grow without bound. */
const maxMessagesPerChat = 1_000;

const ackRank: Record<Ack, number> = { failed: -1, pending: 0, sent: 1, delivered: 2, read: 3, played: 4 };

/** Numbers that begin with this are not on WhatsApp in the simulation (the contract's rule). */
const unregisteredPrefix = '1555999';

export function isRegisteredSimulatedNumber(phone: string): boolean {
  return !phone.startsWith(unregisteredPrefix);
}

type SimulatorAuth = SimulatedAccount;

/** Letters and digits WhatsApp uses in pairing codes (no 0/O, 1/I look-alikes). */
const pairingAlphabet = 'ABCDEFGHJKLMNPQRSTVWXYZ23456789';

interface ChatState {
  id: string;
  name: string;
  unreadCount: number;
  messages: Message[];
}

/** How a message of this session's history travels: its wire id, and the simulated session on the other side. */
interface WireLink {
  wireId: string;
  /** The other simulated session (receiver of a sent message, sender of a received one); null: outside the simulation. */
  peerSessionId: string | null;
  /** Received messages: the id the sender addressed (its id of the message is `true_<wireTo>_<wireId>`). */
  wireTo: string | null;
  /** Received messages: a read receipt went to the sender already. */
  readSent: boolean;
}

type Phase = 'stopped' | 'qr' | 'connected';

class SimulatedSession implements EngineSession, SimulatorControls {
  readonly sessionId: string;
  private readonly listener: EngineListener;
  private readonly logger: Logger;
  private readonly authFile: string;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly chats = new Map<string, ChatState>();
  private readonly contacts = new Map<string, Contact>();
  /** The session's own messages by id, for acks (a scan of the chat per ack costs too much under load). */
  private readonly sentById = new Map<string, Message>();
  /** Every message of the history by id, with how it travels; and the id of each wire id. */
  private readonly byId = new Map<string, { message: Message; link: WireLink }>();
  private readonly idByWire = new Map<string, string>();
  private phase: Phase = 'stopped';
  private me: Me | null = null;
  private account: SimulatorAuth | null = null;
  /** The pairing code asked for while the QR shows, and the number it links. */
  private pendingPairing: { phone: string; code: string } | null = null;
  /** The mailbox delivery under way, and whether another pass is wanted after it. */
  private draining: Promise<void> | null = null;
  private drainAgain = false;

  constructor(
    private readonly options: SimulatorEngineOptions,
    sessionOptions: EngineSessionOptions,
    private readonly onRunning: (session: SimulatedSession, running: boolean) => void,
  ) {
    this.sessionId = sessionOptions.sessionId;
    this.listener = sessionOptions.listener;
    this.logger = options.logger.child({ sessionId: this.sessionId });
    // `simulator-` keeps it apart from the webjs engine's `session-<id>` folders when both share one DATA_DIR.
    this.authFile = path.join(options.dataDir, `simulator-${this.sessionId}`, 'auth.json');
  }

  /**
   * The simulator's controls as the session host calls them (`engine.control` commands): each input is validated
   * against contract/simulator.ts; scan and pair need the session to show a QR (QR_NOT_AVAILABLE otherwise).
   */
  readonly controls: EngineControls = {
    scan: (input, context) => this.runControl('scan', input, context, async ({ phone }) => {
      requireQrStatus(context);
      await this.scan(phone);
      return { session: context.session() };
    }),
    pair: (input, context) => this.runControl('pair', input, context, async ({ code }) => {
      requireQrStatus(context);
      await this.pair(code);
      return { session: context.session() };
    }),
    incoming: (input, context) => this.runControl('incoming', input, context, async ({ from, text }) => ({
      message: await this.injectIncoming(from, text),
    })),
    drain: (input, context) => this.runControl('drain', input, context, async () => {
      // A nudge: delivery runs on its own, not in the session's command queue.
      void this.drain();
      return {};
    }),
  };

  private async runControl<A extends SimulatorControl>(
    action: A,
    input: unknown,
    _context: EngineControlContext,
    run: (input: z.infer<(typeof simulatorControls)[A]['input']>) => Promise<z.infer<(typeof simulatorControls)[A]['result']>>,
  ): Promise<unknown> {
    const parsed = simulatorControls[action].input.safeParse(input);
    if (!parsed.success) throw new ValidationError(describeIssues(parsed.error, 'input'));
    return run(parsed.data as z.infer<(typeof simulatorControls)[A]['input']>);
  }

  async start(): Promise<void> {
    this.clearTimers();
    this.onRunning(this, true);
    const auth = await this.readAuth();
    if (auth !== null && (await this.options.network.claimPhone(auth.phone, this.sessionId))) {
      this.phase = 'connected';
      await this.login(auth);
      return;
    }
    this.phase = 'qr';
    this.pendingPairing = null;
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
    this.onRunning(this, false);
    await this.draining;
  }

  async logout(): Promise<void> {
    await this.stop();
    if (this.account !== null) {
      await this.options.network.publishAccount(this.sessionId, null);
      await this.options.network.releasePhone(this.account.phone, this.sessionId);
    }
    // What still waits for this account can never be delivered now: its senders see `failed`.
    for (const item of await this.options.network.takeAll(this.sessionId)) {
      if (item.kind !== 'message') continue;
      const wire = item.message;
      await this.options.network.post(wire.senderSessionId, { kind: 'ack', messageId: `true_${wire.to}_${wire.id}`, chatId: wire.to, ack: 'failed' });
    }
    await rm(path.dirname(this.authFile), { recursive: true, force: true });
    this.chats.clear();
    this.contacts.clear();
    this.sentById.clear();
    this.byId.clear();
    this.idByWire.clear();
    this.me = null;
    this.account = null;
  }

  async scan(phone?: string): Promise<void> {
    this.requireQr();
    await this.link(phone ?? (await this.freePhone()));
  }

  async requestPairingCode({ phone }: PairingCodeOptions): Promise<string> {
    this.requireQr();
    const bytes = randomBytes(8);
    const code = formatPairingCode(Array.from(bytes, (byte) => pairingAlphabet[byte % pairingAlphabet.length]).join(''));
    this.pendingPairing = { phone, code };
    return code;
  }

  async pair(code: string): Promise<void> {
    this.requireQr();
    const pending = this.pendingPairing;
    if (pending === null || pending.code !== formatPairingCode(code)) {
      throw new ServiceError(
        'PAIRING_CODE_MISMATCH',
        pending === null ? 'No pairing code was asked for this session.' : 'That is not the pairing code this session showed.',
      );
    }
    await this.link(pending.phone);
  }

  private requireQr(): void {
    if (this.phase !== 'qr') {
      throw new ServiceError('QR_NOT_AVAILABLE', 'There is no QR to scan: the session is not waiting for one.', {
        details: { status: this.phase === 'connected' ? 'connected' : 'starting' },
      });
    }
  }

  /** The phone linked this device (by scan or pairing code): the number becomes this session's. */
  private async link(number: string): Promise<void> {
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
    const auth: SimulatorAuth = { phone: number, lid: newLid(), pushName: `Sim ${this.sessionId}` };
    await this.writeAuth(auth);
    this.clearTimers();
    this.pendingPairing = null;
    this.phase = 'connected';
    await this.login(auth);
  }

  private async writeAuth(auth: SimulatorAuth): Promise<void> {
    await mkdir(path.dirname(this.authFile), { recursive: true });
    await writeFile(this.authFile, JSON.stringify(auth), { mode: 0o600 });
  }

  async send({ chatId, content, replyTo }: SendOptions): Promise<Message> {
    const me = this.requireConnected();
    if (chatId.endsWith('@c.us') && !isRegisteredSimulatedNumber(numberOfChatId(chatId))) {
      throw new RecipientNotOnWhatsAppError(chatId);
    }
    const quoted = replyTo === undefined ? null : this.requireMessage(replyTo);
    if (quoted !== null && quoted.message.chatId !== chatId) throw new MessageNotFoundError(quoted.message.id);
    const wireId = randomBytes(10).toString('hex').toUpperCase();
    const id = `true_${chatId}_${wireId}`;
    const { type, body, media, location, wireMedia } = await this.outgoing(content, wireId, id);
    const message: Message = {
      id,
      chatId,
      from: me.id,
      to: chatId,
      fromMe: true,
      type,
      body,
      timestamp: new Date().toISOString(),
      ack: 'sent',
      sender: this.ownIdentity(me),
      quotedMessageId: quoted?.message.id ?? null,
      media,
      location,
    };
    // In the network (a mailbox in Redis) before it is answered: a 201 means WhatsApp's servers have it, and it
    // is delivered even if this host dies next. Commands of one session run one at a time, so order holds.
    const peerSessionId = await this.transmit(message, wireId, me, { quotedWireId: quoted?.link.wireId ?? null, media: wireMedia });
    this.store(chatId, message, { unread: false }, { wireId, peerSessionId, wireTo: null, readSent: true });
    return structuredClone(message);
  }

  /** The parts of a message that depend on what is sent; media goes to the simulated servers (the blob store) first. */
  private async outgoing(
    content: OutgoingContent,
    wireId: string,
    messageId: string,
  ): Promise<Pick<Message, 'type' | 'body' | 'media' | 'location'> & { wireMedia: SimulatedWireMessage['media'] }> {
    switch (content.kind) {
      case 'text':
        return { type: 'chat', body: content.text, media: null, location: null, wireMedia: null };
      case 'location':
        return { type: 'location', body: '', media: null, location: { ...content.location }, wireMedia: null };
      case 'media': {
        const blobs = this.options.blobs;
        if (blobs === undefined) {
          throw new ServiceError('NOT_SUPPORTED_BY_ENGINE', 'This simulator has no media store.', { details: { operation: 'send media' } });
        }
        const { data, mimetype, filename, caption, asVoice } = content.media;
        const blobKey = mediaBlobKey(wireId);
        await blobs.put(blobKey, data, {
          contentType: mimetype,
          ...(filename === null ? {} : { filename }),
          expiresAt: new Date(Date.now() + (this.options.mediaTtlMs ?? defaultMediaTtlMs)),
        });
        const size = data.byteLength;
        return {
          type: mediaTypeOf(mimetype, asVoice),
          body: caption ?? '',
          media: { mimetype, filename, size, url: mediaUrlOf(this.sessionId, messageId) },
          location: null,
          wireMedia: { blobKey, mimetype, filename, size },
        };
      }
    }
  }

  /**
   * Hands a sent message to the network: into the mailbox of the simulated session that has the number or LID, or,
   * for a number outside the simulation, its `delivered` ack into this session's own mailbox. Answers the session
   * on the other side, if simulated.
   */
  private async transmit(
    message: Message,
    wireId: string,
    me: Me,
    extra: { quotedWireId: string | null; media: SimulatedWireMessage['media'] },
  ): Promise<string | null> {
    const chatId = message.chatId;
    const network = this.options.network;
    const receiver = await this.accountOfChat(chatId);
    const own = this.account;
    if (receiver !== null && receiver.sessionId !== this.sessionId && own !== null) {
      // WhatsApp shows the sender by LID; the phone only to someone who already was a contact.
      const known = await network.areContacts(own.lid, receiver.lid);
      await network.connect(own.lid, receiver.lid);
      // A simulated session with no live host keeps the message `sent` until a host runs it, as a phone that is off.
      await network.post(receiver.sessionId, {
        kind: 'message',
        message: {
          id: wireId,
          from: me.id,
          to: chatId,
          body: message.body,
          timestamp: message.timestamp,
          senderSessionId: this.sessionId,
          senderPushName: me.pushName,
          senderLid: `${own.lid}@lid`,
          senderPhone: known ? own.phone : null,
          type: message.type,
          quotedWireId: extra.quotedWireId,
          media: extra.media,
          location: message.location,
        },
      });
      return receiver.sessionId;
    }
    await network.post(this.sessionId, { kind: 'ack', messageId: message.id, chatId, ack: 'delivered' }, { nudge: false });
    queueMicrotask(() => void this.drain());
    return null;
  }

  /** The simulated account behind a chat id (a phone id or a LID), or null when it is outside the simulation. */
  private accountOfChat(chatId: string): Promise<(SimulatedAccount & { sessionId: string }) | null> {
    const digits = numberOfChatId(chatId);
    if (chatId.endsWith('@c.us')) return this.options.network.accountOfPhone(digits);
    if (isLid(chatId)) return this.options.network.accountOfLid(digits);
    return Promise.resolve(null);
  }

  drain(): Promise<void> {
    if (this.draining !== null) {
      this.drainAgain = true;
      return this.draining;
    }
    this.draining = (async () => {
      try {
        do {
          this.drainAgain = false;
          await this.drainOnce();
        } while (this.drainAgain && this.phase === 'connected');
      } catch (error) {
        this.logger.warn({ err: error }, 'could not deliver the simulated mailbox; the sweep tries again');
      } finally {
        this.draining = null;
      }
    })();
    return this.draining;
  }

  /**
   * Takes the mailbox in order, a batch at a time: each item is shown to the client once (an item a dead host had
   * already shown is recognised by its key), and leaves the mailbox only once its events are stored.
   */
  private async drainOnce(): Promise<void> {
    const network = this.options.network;
    for (;;) {
      if (this.phase !== 'connected') return;
      const items = await network.peek(this.sessionId, mailboxBatch);
      if (items.length === 0) return;
      const keys = items.map(itemKeyOf);
      const shown = await network.wereDelivered(this.sessionId, keys);
      const acks: Array<Promise<void>> = [];
      for (const [index, item] of items.entries()) {
        const fresh = shown[index] !== true;
        switch (item.kind) {
          case 'message': {
            if (fresh) this.receive(item.message);
            // The sender hears `delivered` either way (once: its side recognises a repeated ack by its key).
            const wire = item.message;
            acks.push(network.post(wire.senderSessionId, { kind: 'ack', messageId: `true_${wire.to}_${wire.id}`, chatId: wire.to, ack: 'delivered' }));
            break;
          }
          case 'ack':
            if (fresh) this.applyAck(item.messageId, item.chatId, item.ack);
            break;
          default:
            if (fresh) this.applyChange(item);
        }
      }
      await this.listener.flushed?.();
      await Promise.all(acks);
      await network.done(this.sessionId, items, keys);
    }
  }

  private receive(wire: SimulatedWireMessage): void {
    if (this.me === null) return;
    const sender = identityOf(wire.senderLid, { phone: wire.senderPhone });
    // A chat this session began with the sender's number stays that chat once the number is known.
    const phoneChat = wire.senderPhone === null ? undefined : `${wire.senderPhone}@c.us`;
    const chatId = phoneChat !== undefined && this.chats.has(phoneChat) ? phoneChat : wire.senderLid;
    const id = `false_${chatId}_${wire.id}`;
    const message: Message = {
      id,
      chatId,
      from: wire.senderLid,
      to: this.me.id,
      fromMe: false,
      type: wire.type,
      body: wire.body,
      timestamp: wire.timestamp,
      ack: 'delivered',
      sender,
      quotedMessageId: wire.quotedWireId === null ? null : (this.idByWire.get(wire.quotedWireId) ?? null),
      media: wire.media === null ? null : { mimetype: wire.media.mimetype, filename: wire.media.filename, size: wire.media.size, url: mediaUrlOf(this.sessionId, id) },
      location: wire.location,
    };
    this.rememberContact(chatId, wire.senderPushName, sender);
    this.store(chatId, message, { unread: true }, { wireId: wire.id, peerSessionId: wire.senderSessionId, wireTo: wire.to, readSent: false });
    this.listener.emit({ type: 'message', message: structuredClone(message) });
    // The phone's owner reads it after a while (SIMULATOR_READ_AFTER_MS; 0: only when the chat is marked read).
    if (this.options.readAfterMs > 0) this.after(this.options.readAfterMs, () => this.readChat(chatId));
  }

  /** The other side reacted, edited or revoked: applied to the history and reported, by the message's id here. */
  private applyChange(item: Extract<SimulatedMailItem, { kind: 'reaction' | 'edit' | 'revoke' }>): void {
    const messageId = this.idByWire.get(item.wireId) ?? item.targetId;
    const local = this.byId.get(messageId)?.message;
    const chatId = local?.chatId ?? chatOfMessageId(messageId);
    switch (item.kind) {
      case 'reaction':
        this.listener.emit({ type: 'reaction', messageId, chatId, sender: identityOf(item.senderLid, { phone: item.senderPhone }), emoji: item.emoji });
        return;
      case 'edit':
        if (local !== undefined) local.body = item.body;
        this.listener.emit({ type: 'edited', messageId, chatId, body: item.body });
        return;
      case 'revoke':
        if (local !== undefined) Object.assign(local, { type: 'revoked', body: '', media: null, location: null });
        this.listener.emit({ type: 'revoked', messageId, chatId });
        return;
    }
  }

  async injectIncoming(from: string, text: string): Promise<Message> {
    const me = this.requireConnected();
    const wireId = randomBytes(10).toString('hex').toUpperCase();
    const message: Message = {
      id: `false_${from}_${wireId}`,
      chatId: from,
      from,
      to: me.id,
      fromMe: false,
      type: 'chat',
      body: text,
      timestamp: new Date().toISOString(),
      ack: 'delivered',
      sender: identityOf(from),
      quotedMessageId: null,
      media: null,
      location: null,
    };
    this.rememberContact(from, '', identityOf(from));
    this.store(from, message, { unread: true }, { wireId, peerSessionId: null, wireTo: null, readSent: false });
    this.listener.emit({ type: 'message', message: structuredClone(message) });
    return structuredClone(message);
  }

  /**
   * An ack of a message this session sent. One this host does not know (sent before it took the session over: the
   * history stays with the host that died) is still reported: the sender must hear what became of every message.
   */
  private applyAck(messageId: string, chatId: string, ack: Ack): void {
    const message = this.sentById.get(messageId);
    if (message !== undefined) {
      if (message.chatId !== chatId || ackRank[ack] <= ackRank[message.ack]) return;
      message.ack = ack;
    }
    this.listener.emit({ type: 'ack', messageId, chatId, ack });
  }

  async downloadMedia({ messageId }: MessageOptions): Promise<DownloadedMedia> {
    this.requireConnected();
    const { message, link } = this.requireMessage(messageId);
    if (message.media === null) throw new MediaNotFoundError(messageId, 'none');
    const blob = await this.options.blobs?.get(mediaBlobKey(link.wireId));
    if (blob === undefined || blob === null) throw new MediaNotFoundError(messageId, 'gone');
    const data = await collectBytes(blob.stream);
    return { data, mimetype: message.media.mimetype, filename: message.media.filename };
  }

  async react({ messageId, emoji }: ReactOptions): Promise<void> {
    this.requireConnected();
    const { message, link } = this.requireMessage(messageId);
    const own = this.account;
    if (link.peerSessionId === null || own === null) return;
    const known = await this.options.network.areContacts(own.lid, (await this.options.network.accountOfSession(link.peerSessionId))?.lid ?? '');
    await this.options.network.post(link.peerSessionId, {
      kind: 'reaction',
      wireId: link.wireId,
      targetId: this.peerIdOf(message, link),
      emoji,
      senderLid: `${own.lid}@lid`,
      senderPhone: known ? own.phone : null,
      nonce: randomBytes(6).toString('hex'),
    });
  }

  async edit({ messageId, text }: EditOptions): Promise<Message> {
    this.requireConnected();
    const { message, link } = this.requireMessage(messageId);
    if (!message.fromMe) throw new MessageNotEditableError(messageId, 'only your own messages can be edited');
    if (message.type !== 'chat') throw new MessageNotEditableError(messageId, 'only text messages can be edited');
    message.body = text;
    if (link.peerSessionId !== null) {
      await this.options.network.post(link.peerSessionId, {
        kind: 'edit',
        wireId: link.wireId,
        targetId: this.peerIdOf(message, link),
        body: text,
        nonce: randomBytes(6).toString('hex'),
      });
    }
    return structuredClone(message);
  }

  async revoke({ messageId, everyone }: RevokeOptions): Promise<void> {
    this.requireConnected();
    const { message, link } = this.requireMessage(messageId);
    if (everyone && message.fromMe && message.type !== 'revoked') {
      Object.assign(message, { type: 'revoked', body: '', media: null, location: null });
      if (link.peerSessionId !== null) {
        await this.options.network.post(link.peerSessionId, { kind: 'revoke', wireId: link.wireId, targetId: this.peerIdOf(message, link) });
      }
      return;
    }
    // For this session only: it leaves the history here.
    const chat = this.chats.get(message.chatId);
    if (chat !== undefined) chat.messages = chat.messages.filter((kept) => kept.id !== messageId);
    this.forget(message);
  }

  async markRead({ chatId }: ChatOptions): Promise<void> {
    this.requireConnected();
    await this.readChat(chatId);
  }

  /** The chat is read: unread count 0, and a read receipt to each sender of what was not read yet. */
  private async readChat(chatId: string): Promise<void> {
    const chat = this.chats.get(chatId);
    if (chat === undefined) return;
    chat.unreadCount = 0;
    const receipts: Array<Promise<void>> = [];
    for (const message of chat.messages) {
      const link = this.byId.get(message.id)?.link;
      if (message.fromMe || link === undefined || link.readSent) continue;
      link.readSent = true;
      if (link.peerSessionId === null || link.wireTo === null) continue;
      receipts.push(
        this.options.network.post(link.peerSessionId, { kind: 'ack', messageId: `true_${link.wireTo}_${link.wireId}`, chatId: link.wireTo, ack: 'read' }),
      );
    }
    await Promise.all(receipts).catch((error: unknown) => this.logger.warn({ err: error }, 'could not send a read receipt'));
  }

  /** The id the other side has for a message: the sender's is `true_<to>_<wire id>`; the receiver's chat is our LID's. */
  private peerIdOf(message: Message, link: WireLink): string {
    if (!message.fromMe && link.wireTo !== null) return `true_${link.wireTo}_${link.wireId}`;
    return `false_${this.me?.lid ?? message.from}_${link.wireId}`;
  }

  private requireMessage(messageId: string): { message: Message; link: WireLink } {
    const found = this.byId.get(messageId);
    if (found === undefined) throw new MessageNotFoundError(messageId);
    return found;
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
          lastMessage: last === null ? null : structuredClone(last),
          lid: this.contacts.get(chat.id)?.lid ?? identityOf(chat.id).lid,
          phone: this.contacts.get(chat.id)?.phone ?? identityOf(chat.id).phone,
        };
      })
      .sort((a, b) => b.timestamp.localeCompare(a.timestamp));
  }

  async listMessages({ chatId, limit, before }: ListMessagesOptions): Promise<Message[]> {
    const messages = this.chats.get(chatId)?.messages ?? [];
    let end = messages.length;
    if (before !== undefined) {
      end = messages.findIndex((message) => message.id === before);
      if (end < 0) throw new MessageNotFoundError(before);
    }
    return messages.slice(Math.max(0, end - limit), end).map((message) => structuredClone(message));
  }

  async listContacts(): Promise<Contact[]> {
    return [...this.contacts.values()].map((contact) => ({ ...contact }));
  }

  /**
   * What WhatsApp tells of one id: a simulated account by phone (with its LID) or by LID (with the phone only when
   * the two are contacts), an outside number that is on WhatsApp (phone only), or someone who wrote to this session.
   */
  async getContact({ contactId }: GetContactOptions): Promise<Contact | null> {
    this.requireConnected();
    const network = this.options.network;
    const digits = numberOfChatId(contactId);
    const local = this.contacts.get(contactId);
    let identity: Identity | null = null;
    let pushName = local?.pushName ?? '';
    if (contactId.endsWith('@c.us')) {
      const account = await network.accountOfPhone(digits);
      if (account !== null) {
        identity = identityOf(contactId, { lid: `${account.lid}@lid` });
        pushName = account.pushName;
      } else if (isRegisteredSimulatedNumber(digits)) {
        identity = identityOf(contactId);
      }
    } else if (isLid(contactId)) {
      const account = await network.accountOfLid(digits);
      if (account !== null) {
        const known = this.account !== null && (await network.areContacts(this.account.lid, account.lid));
        identity = identityOf(contactId, { phone: known ? account.phone : (local?.phone ?? null) });
        pushName = account.pushName;
      } else if (local !== undefined) {
        identity = identityOf(contactId, { phone: local.phone });
      }
    } else if (local !== undefined) {
      return { ...local };
    }
    if (identity === null) return null;
    return {
      id: contactId,
      name: local?.name || pushName || identity.phone || digits,
      pushName,
      number: identity.phone ?? '',
      isMyContact: local?.isMyContact ?? false,
      isGroup: false,
      lid: identity.lid,
      phone: identity.phone,
    };
  }

  private async login(auth: SimulatorAuth): Promise<void> {
    this.account = auth;
    this.me = { id: `${auth.phone}@c.us`, pushName: auth.pushName, lid: `${auth.lid}@lid` };
    const me = this.me;
    await this.options.network.publishAccount(this.sessionId, auth);
    this.listener.emit({ type: 'status', status: 'authenticated' });
    this.listener.emit({ type: 'status', status: 'connected', me });
    // What arrived while no host ran this session (or while it waited for a scan) is delivered now.
    queueMicrotask(() => void this.drain());
  }

  private ownIdentity(me: Me): Identity {
    return identityOf(me.id, { lid: me.lid });
  }

  private showQr(): void {
    const code = `2@${randomBytes(24).toString('base64')},${randomBytes(16).toString('base64')},sim-${this.sessionId}`;
    this.listener.emit({ type: 'status', status: 'qr', qr: code });
  }

  private requireConnected(): Me {
    if (this.phase !== 'connected' || this.me === null) {
      throw new ServiceError('SESSION_NOT_CONNECTED', 'The simulated session is not connected.');
    }
    return this.me;
  }

  private store(chatId: string, message: Message, { unread }: { unread: boolean }, link: WireLink): void {
    let chat = this.chats.get(chatId);
    if (chat === undefined) {
      chat = { id: chatId, name: this.contacts.get(chatId)?.name || numberOfChatId(chatId), unreadCount: 0, messages: [] };
      this.chats.set(chatId, chat);
    }
    chat.messages.push(message);
    if (message.fromMe) this.sentById.set(message.id, message);
    this.byId.set(message.id, { message, link });
    this.idByWire.set(link.wireId, message.id);
    if (chat.messages.length > maxMessagesPerChat) {
      for (const dropped of chat.messages.splice(0, chat.messages.length - maxMessagesPerChat)) this.forget(dropped);
    }
    if (unread) chat.unreadCount += 1;
  }

  private forget(message: Message): void {
    this.sentById.delete(message.id);
    const link = this.byId.get(message.id)?.link;
    this.byId.delete(message.id);
    if (link !== undefined && this.idByWire.get(link.wireId) === message.id) this.idByWire.delete(link.wireId);
  }

  private rememberContact(chatId: string, pushName: string, identity: Identity): void {
    const existing = this.contacts.get(chatId);
    const phone = identity.phone ?? existing?.phone ?? null;
    const name = pushName || existing?.name || phone || numberOfChatId(chatId);
    this.contacts.set(chatId, {
      id: chatId,
      name,
      pushName: pushName || existing?.pushName || '',
      number: phone ?? '',
      isMyContact: false,
      isGroup: chatId.endsWith('@g.us'),
      lid: identity.lid ?? existing?.lid ?? null,
      phone,
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
        // Logins saved before accounts had LIDs get one now, kept from then on.
        const lid = 'lid' in parsed && typeof parsed.lid === 'string' ? parsed.lid : null;
        const auth = { phone: parsed.phone, pushName: parsed.pushName, lid: lid ?? newLid() };
        if (lid === null) await this.writeAuth(auth);
        return auth;
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

/** A LID as WhatsApp hands them out: 15 digits, unrelated to the phone number. */
function newLid(): string {
  const digits = Array.from(randomBytes(14), (byte) => String(byte % 10)).join('');
  return `2${digits}`;
}

/** Scan and pair only while the session shows a QR, as the session host sees it. */
function requireQrStatus(context: EngineControlContext): void {
  const { status } = context.session();
  if (status !== 'qr') {
    throw new ServiceError('QR_NOT_AVAILABLE', `The session has no QR to scan: it is ${status}.`, { details: { status } });
  }
}
