/**
 * The `webjs` engine: one whatsapp-web.js Client (one headless Chromium) per session.
 *
 * What a gateway user sees, and why:
 * - `qr` on each QR rotation; `authenticated` once; `connected` once per real change (whatsapp-web.js fires
 *   `authenticated` and `ready` again on every `hasSynced` change).
 * - Logout from the phone (library reason `LOGOUT`, or a socket state `UNPAIRED*` after ready): the login is gone
 *   for good, and WhatsApp will not take it back, so retrying is pointless but the session itself is still wanted.
 *   The engine reports `disconnected` (lastError LOGGED_OUT), removes the session's data, starts a fresh client and
 *   reports its QR as `{status: 'qr', qr, loggedOut: true}`: the session waits for a new scan, as WhatsApp Web does.
 *   (whatsapp-web.js would re-inject into the same browser after deleting the profile under it; a fresh browser on
 *   a fresh profile is the reliable way.) The session host should clear `me` when it sees `loggedOut: true`.
 * - `CONFLICT` (the same login used elsewhere) and other disconnects: `disconnected` with that code, then the engine
 *   restarts the client by itself (capped exponential backoff with jitter). The library destroys its browser after
 *   any `disconnected`, so there is nothing to keep.
 * - A crashed Chromium or a page that stops answering (probe every `livenessIntervalMs`): `disconnected` with
 *   BROWSER_CRASHED, then the same restarts; after `maxRestarts` failed restarts in a row, `failed`.
 * - `start()` that cannot load WhatsApp Web within `initTimeoutMs` (net::ERR_*, 'auth timeout', nothing happening):
 *   `failed` with WHATSAPP_UNREACHABLE, and no browser left. The session host decides whether to try again.
 * - Incoming messages: once each (de-duplicated on the message id), people's messages only (no system notices, no
 *   status updates). Acks: only of the account's own messages, only when they move past `sent`.
 * - `stop()` keeps the login (the next start needs no scan); `logout()` logs out when connected, and removes the data.
 *
 * - Message ids on every WhatsApp Web build: builds from July 2026 on renamed the message key's `_serialized`; the
 *   id shim (msgkey-shim.ts) finds the field by value and gives keys `_serialized` again, in the page (after every
 *   inject, and before the library reads any key: when WhatsApp Web has synced) and in Node (every library
 *   `Message`). It steps aside by itself where keys have `_serialized`.
 * - People: `sender`, and `lid`/`phone` on chats and contacts, as far as WhatsApp Web tells (its LID ↔ phone map,
 *   read in one page call per list; incoming messages use what the session has learnt so far, no extra call).
 *   Sending to a phone id with no chat first asks WhatsApp whether the number is on it: if not,
 *   RECIPIENT_NOT_ON_WHATSAPP and nothing is sent. Once the send itself has begun, any failure is
 *   SEND_OUTCOME_UNKNOWN (the message may have left), never a validation error.
 * - Pairing code: `requestPairingCode(phone)` while a QR shows; once typed on the phone, authenticated → connected.
 * - Beyond text: media, locations, replies and mentions go out through `client.sendMessage`; download, react, edit
 *   and delete through the library's Message methods on a message found by id (MESSAGE_NOT_FOUND otherwise); mark
 *   read through WhatsApp Web's sendSeen. What OTHER people do is reported (`reaction`, `edited`, `revoked`, once
 *   each); the library reports the account's own reactions, edits and revokes too, and those are left out.
 *
 * Where each part lives: this file holds the session's state and turns the library's events into the port's;
 * supervisor.ts launches, restarts, probes and tears down the browser; client-factory.ts builds the Client with the
 * library patches (the guarded inject/destroy, the id shim hooks; the one process-wide change is the Node half of
 * the id shim, a no-op for keys that have `_serialized`); operations.ts holds the port's operations; identities.ts
 * what the session learnt of LIDs and phones; inbound-dedup.ts the once-only reporting; errors.ts what failures
 * mean for a user. The engine's own promises are all caught.
 */
import path from 'node:path';
import type { Page } from 'puppeteer';
import type WAWebJS from 'whatsapp-web.js';
import { numberOfChatId, sessionIdSchema, type Chat, type Contact, type Me, type Message } from '../../../contract/api.js';
import { ServiceError, SessionNotConnectedError } from '../../../contract/errors.js';
import { withTimeout } from '../../../lib/async.js';
import type { Logger } from '../../../lib/logger.js';
import type {
  CallOptions,
  Engine,
  EngineListener,
  EngineSession,
  EngineSessionOptions,
  EngineStatus,
  EngineStatusUpdate,
  ChatOptions,
  DownloadedMedia,
  EditOptions,
  GetContactOptions,
  ListMessagesOptions,
  MessageOptions,
  PairingCodeOptions,
  ReactOptions,
  RevokeOptions,
  SendOptions,
} from '../engine.js';
import { resolveChromePath } from './chromium.js';
import { createClient, installLibraryPatches, type ClientEvents } from './client-factory.js';
import { ackName, chatIdOf, identityWith, isPersonMessage, messageIdOf, rawDataOf, serialized, toMessage } from './convert.js';
import { classifyLaunchError, disconnectCause, launchTimeoutError } from './errors.js';
import { KnownIdentities, ownLid } from './identities.js';
import { InboundDedup } from './inbound-dedup.js';
import { normaliseMsgKey } from './msgkey-shim.js';
import { WebjsOperations } from './operations.js';
import { BrowserSupervisor, type BrowserDriver, type Launch } from './supervisor.js';

export { classifyLaunchError } from './errors.js';

export interface WebjsEngineOptions {
  /** Where LocalAuth keeps each session's Chromium profile: `<dataDir>/session-<sessionId>`. */
  dataDir: string;
  /** CHROME_PATH; else the first of the usual paths that exists. */
  chromePath?: string;
  /** How long a start may take until a QR or `connected` (and each restart the same). */
  initTimeoutMs: number;
  /** A directory of WhatsApp Web builds (`<webVersion>.html`) served instead of the network (tests: the stand-in). */
  webCacheDir?: string;
  webVersion?: string;
  logger: Logger;
  /** How often a live client's page is probed (default 15 s). */
  livenessIntervalMs?: number;
  /** How long a probe may take before the page counts as dead (default 10 s). */
  livenessTimeoutMs?: number;
  /** Restarts in a row after a crash or disconnect before `failed` (default 5). */
  maxRestarts?: number;
  /** First restart delay; doubles each time, capped, with jitter (defaults 1 s, cap 60 s). */
  restartBaseDelayMs?: number;
  restartMaxDelayMs?: number;
  /** A connection that lasts this long resets the restart count (default 60 s). */
  stableAfterMs?: number;
  /** Bound on send / list calls into the page (default 30 s). */
  operationTimeoutMs?: number;
  /** V8 heap cap of the page's renderer, MB (default 1024). */
  maxOldSpaceMb?: number;
  /**
   * The page-side half of the message-id shim (default on). Off only in tests, to show what it fixes; it steps
   * aside by itself where WhatsApp Web's keys have `_serialized`.
   */
  pageIdShim?: boolean;
}

/** The engine, with sessions typed as WebjsSession (tests and diagnostics reach the page through it). */
export interface WebjsEngine extends Engine {
  openSession(options: EngineSessionOptions): WebjsSession;
}

export function createWebjsEngine(options: WebjsEngineOptions): WebjsEngine {
  // Node half of the id shim: once per process, whatever the number of engines.
  installLibraryPatches();
  const active = new Set<WebjsSession>();
  const log = options.logger.child({ component: 'webjs-engine' });
  try {
    const chrome = resolveChromePath(options.chromePath);
    log.info({ chrome }, 'webjs engine ready');
  } catch (error) {
    // Not fatal here: each session start reports it as `failed` with CHROME_NOT_FOUND.
    log.error({ err: error }, 'no Chromium for the webjs engine');
  }
  return {
    name: 'webjs',
    openSession({ sessionId, listener }: EngineSessionOptions): WebjsSession {
      // The id names a folder; nothing but the contract's characters may pass (LocalAuth checks too, less strictly).
      sessionIdSchema.parse(sessionId);
      return new WebjsSession(sessionId, listener, options, (session, isActive) => {
        if (isActive) active.add(session);
        else active.delete(session);
      });
    },
    async close(): Promise<void> {
      await Promise.allSettled([...active].map((session) => session.stop()));
      active.clear();
    },
  };
}

const LOGOUT_TIMEOUT_MS = 10_000;

/** The liveness probe of a whatsapp-web.js client: any answer from its page will do. */
async function probePage(client: WAWebJS.Client): Promise<void> {
  const page = client.pupPage;
  if (!page || !client.pupBrowser?.connected) throw new Error('the browser is not connected');
  await page.evaluate(() => 1);
}

export class WebjsSession implements EngineSession {
  readonly profileDir: string;
  private readonly log: Logger;
  private readonly supervisor: BrowserSupervisor<WAWebJS.Client>;
  private readonly operations: WebjsOperations;
  private readonly inbound = new InboundDedup();
  private readonly identities = new KnownIdentities();
  private lastStatus: EngineStatus | null = null;
  private me: Me | null = null;
  /** The login was lost from the phone: the next QR says so (`loggedOut: true`). */
  private loggedOutPending = false;

  constructor(
    readonly sessionId: string,
    private readonly listener: EngineListener,
    options: WebjsEngineOptions,
    private readonly onActive: (session: WebjsSession, active: boolean) => void,
  ) {
    this.profileDir = path.join(path.resolve(options.dataDir), `session-${sessionId}`);
    this.log = options.logger.child({ sessionId });
    const operationTimeoutMs = options.operationTimeoutMs ?? 30_000;
    const settings = {
      sessionId,
      dataDir: options.dataDir,
      initTimeoutMs: options.initTimeoutMs,
      operationTimeoutMs,
      maxOldSpaceMb: options.maxOldSpaceMb ?? 1_024,
      webCacheDir: options.webCacheDir,
      webVersion: options.webVersion,
      pageIdShim: options.pageIdShim !== false,
      logger: this.log,
    };
    const driver: BrowserDriver<WAWebJS.Client> = {
      create: (launch, chromePath) => createClient(launch, chromePath, settings, this.clientEvents(launch)),
      initialize: (client) => client.initialize(),
      destroy: (client) => client.destroy(),
      probe: probePage,
      classifyLaunchError,
      launchTimeoutError,
    };
    this.supervisor = new BrowserSupervisor({
      driver,
      profileDir: this.profileDir,
      dataDir: options.dataDir,
      chromePath: options.chromePath,
      initTimeoutMs: options.initTimeoutMs,
      livenessIntervalMs: options.livenessIntervalMs ?? 15_000,
      livenessTimeoutMs: options.livenessTimeoutMs ?? 10_000,
      maxRestarts: options.maxRestarts ?? 5,
      restartBaseDelayMs: options.restartBaseDelayMs ?? 1_000,
      restartMaxDelayMs: options.restartMaxDelayMs ?? 60_000,
      stableAfterMs: options.stableAfterMs ?? 60_000,
      names: { client: 'whatsapp-web.js', app: 'WhatsApp Web' },
      logger: this.log,
      report: (update) => this.report(update),
    });
    this.operations = new WebjsOperations({
      sessionId,
      log: this.log,
      operationTimeoutMs,
      connectedClient: () => this.connectedClient(),
      clientShowingQr: () => this.clientShowingQr(),
      me: () => this.me,
      identities: this.identities,
      inbound: this.inbound,
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // For tests and diagnostics

  /** The page of the current client, once its browser runs. */
  currentPage(): Page | undefined {
    return this.supervisor.launch?.client?.pupPage ?? undefined;
  }

  /** The pid of the current client's Chromium, once it runs. */
  browserPid(): number | undefined {
    return this.supervisor.launch?.pid;
  }

  status(): EngineStatus | null {
    return this.lastStatus;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Lifecycle

  async start(): Promise<void> {
    if (this.supervisor.isRunning) return;
    this.onActive(this, true);
    this.lastStatus = null;
    this.supervisor.start();
  }

  async stop(): Promise<void> {
    await this.shutDown();
    this.log.info('webjs session stopped');
  }

  async logout(): Promise<void> {
    const launch = this.supervisor.launch;
    const client = launch?.client;
    const loggedIn = launch?.ready && this.lastStatus === 'connected';
    // The library reports its own logout as a `disconnected` LOGOUT: that must not start a new login.
    this.supervisor.quiesce();
    if (loggedIn && client) {
      try {
        // Unlinks the device on WhatsApp's side, closes the browser, deletes the profile.
        await withTimeout(client.logout(), { timeoutMs: LOGOUT_TIMEOUT_MS, what: 'logging out' });
      } catch (error) {
        this.log.warn({ err: error }, 'logout in WhatsApp Web failed; removing the local login anyway');
      }
    }
    await this.shutDown();
    await this.supervisor.wipeProfile();
    this.me = null;
    this.log.info('webjs session logged out and its data removed');
  }

  private async shutDown(): Promise<void> {
    await this.supervisor.stop();
    this.onActive(this, false);
  }

  private report(update: EngineStatusUpdate): void {
    this.lastStatus = update.status;
    this.log.info({ status: update.status, lastError: update.lastError, loggedOut: update.loggedOut }, 'webjs session status');
    try {
      this.listener.emit({ type: 'status', ...update });
    } catch (error) {
      this.log.error({ err: error }, 'the status listener threw');
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Events of a current client

  private clientEvents(launch: Launch<WAWebJS.Client>): ClientEvents {
    return {
      qr: (qr) => {
        launch.answered();
        const update: EngineStatusUpdate = { status: 'qr', qr };
        if (this.loggedOutPending) {
          update.loggedOut = true;
          this.loggedOutPending = false;
        }
        this.report(update);
      },
      // The library fires `authenticated` and `ready` again on every `hasSynced` change: report real changes only.
      authenticated: () => {
        if (this.lastStatus !== 'authenticated' && this.lastStatus !== 'connected') this.report({ status: 'authenticated' });
      },
      ready: () => {
        launch.answered();
        launch.ready = true;
        this.supervisor.track(this.reportReady(launch));
      },
      disconnected: (reason) => this.onDisconnected(launch, reason),
      message: (message) => this.onIncoming(message),
      ack: (message, ack) => this.onAck(message, ack),
      reaction: (reaction) => this.onReaction(reaction),
      edit: (message, newBody, previousBody) => this.onEdit(message, newBody, previousBody),
      revokedForEveryone: (message, before) => this.onRevoked(message, before),
    };
  }

  private async reportReady(launch: Launch<WAWebJS.Client>): Promise<void> {
    const client = launch.client;
    if (client === null) return;
    const info = client.info as WAWebJS.ClientInfo | undefined;
    const lid = await ownLid(client, this.log);
    if (!launch.isCurrent()) return;
    const me: Me = {
      id: info?.wid?._serialized ?? '',
      pushName: typeof info?.pushname === 'string' ? info.pushname : '',
      lid,
    };
    if (me.id !== '' && lid !== null) {
      this.identities.learn(me.id, { lid, phone: me.id.endsWith('@c.us') ? numberOfChatId(me.id) : null });
    }
    if (this.lastStatus === 'connected' && this.me?.id === me.id && this.me.pushName === me.pushName && this.me.lid === me.lid) return;
    this.me = me;
    this.report({ status: 'connected', me });
    this.supervisor.connected();
  }

  private onDisconnected(launch: Launch<WAWebJS.Client>, reason: string): void {
    const { loggedOut, lastError } = disconnectCause(reason);
    if (loggedOut) {
      // The library would re-inject into the same browser after deleting the profile under it; a fresh browser on
      // a fresh profile is the reliable way back to a QR.
      this.supervisor.retire(launch);
      this.me = null;
      this.report({ status: 'disconnected', lastError });
      this.supervisor.relaunchOnFreshProfile(launch, () => {
        this.loggedOutPending = true;
      });
      return;
    }
    // The library destroys its browser after any `disconnected`: there is nothing to keep.
    this.report({ status: 'disconnected', lastError });
    this.supervisor.recover(launch, lastError);
  }

  private onIncoming(message: WAWebJS.Message): void {
    if (message.fromMe || !isPersonMessage(message)) return;
    const id = messageIdOf(message);
    if (id === '') {
      this.log.warn({ key: message.id }, 'an incoming message has no id this engine can read; reported without de-duplication');
    } else if (!this.inbound.isFirstSighting(id)) {
      return;
    }
    try {
      this.listener.emit({ type: 'message', message: toMessage(message, { sessionId: this.sessionId, me: this.me, known: this.identities.lookup }) });
    } catch (error) {
      this.log.error({ err: error }, 'the message listener threw');
    }
  }

  private onAck(message: WAWebJS.Message, ackValue: number): void {
    if (!message.fromMe) return;
    const ack = ackName(ackValue);
    const messageId = messageIdOf(message);
    if (!this.inbound.ackMovesForward(messageId, ack)) return;
    try {
      this.listener.emit({ type: 'ack', messageId, chatId: chatIdOf(message), ack });
    } catch (error) {
      this.log.error({ err: error }, 'the ack listener threw');
    }
  }

  /** Whether an id is the account's own (its phone id or its LID). */
  private isMe(id: string): boolean {
    return id !== '' && this.me !== null && (id === this.me.id || (this.me.lid !== null && id === this.me.lid));
  }

  private emitOnce(key: string, event: Parameters<EngineListener['emit']>[0]): void {
    if (!this.inbound.isFirstSighting(key)) return;
    try {
      this.listener.emit(event);
    } catch (error) {
      this.log.error({ err: error }, 'the event listener threw');
    }
  }

  /**
   * Someone's reaction. Its keys reach Node as plain copies (on July-2026 builds with the minified field, unless the
   * page shim's toJSON gave them `_serialized`): the ids are read by value (normaliseMsgKey).
   */
  private onReaction(reaction: WAWebJS.Reaction): void {
    const raw = reaction as unknown as { id?: unknown; msgId?: unknown; senderId?: unknown; reaction?: unknown; timestamp?: unknown };
    const parent = raw.msgId as { remote?: unknown } | undefined;
    const messageId = normaliseMsgKey(parent);
    const own = (raw.id as { fromMe?: unknown } | undefined)?.fromMe === true;
    const senderId = typeof raw.senderId === 'string' ? raw.senderId : '';
    if (messageId === '' || own || this.isMe(senderId)) return;
    const chatId = serialized(parent?.remote as string | { _serialized?: string } | undefined);
    const emoji = typeof raw.reaction === 'string' ? raw.reaction : '';
    this.emitOnce(`reaction|${normaliseMsgKey(raw.id)}|${messageId}|${senderId}|${emoji}|${String(raw.timestamp)}`, {
      type: 'reaction',
      messageId,
      chatId,
      sender: identityWith(senderId, this.identities.lookup),
      emoji,
    });
  }

  /** Someone edited a message they had sent (the account's own edits come back here too, and are left out). */
  private onEdit(message: WAWebJS.Message, newBody: unknown, previousBody: unknown): void {
    if (message.fromMe || !isPersonMessage(message) || typeof newBody !== 'string' || newBody === previousBody) return;
    const messageId = messageIdOf(message);
    if (messageId === '') return;
    const editedAt = rawDataOf(message).latestEditSenderTimestampMs;
    this.emitOnce(`edited|${messageId}|${String(editedAt)}|${newBody}`, { type: 'edited', messageId, chatId: chatIdOf(message), body: newBody });
  }

  /**
   * A message deleted for everyone. The revoked model has a new key; the message's own is its
   * `protocolMessageKey` (whatsapp-web.js #3715), else the library's copy from before the revoke.
   */
  private onRevoked(message: WAWebJS.Message, before: WAWebJS.Message | null | undefined): void {
    const original = (message as unknown as { protocolMessageKey?: unknown }).protocolMessageKey;
    const key = (original ?? before?.id ?? message.id) as { fromMe?: unknown; remote?: unknown };
    const messageId = normaliseMsgKey(key);
    // Other people can delete only what they sent: the account's own messages deleted are its own doing.
    if (messageId === '' || key.fromMe === true) return;
    const chatId = serialized(key.remote as string | { _serialized?: string } | undefined) || chatIdOf(message);
    this.emitOnce(`revoked|${messageId}`, { type: 'revoked', messageId, chatId });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Operations (operations.ts)

  private connectedClient(): WAWebJS.Client {
    const launch = this.supervisor.launch;
    if (!launch?.ready || !launch.client || this.lastStatus !== 'connected' || !launch.isCurrent()) {
      throw new SessionNotConnectedError(this.sessionId, this.lastStatus ?? 'starting');
    }
    return launch.client;
  }

  private clientShowingQr(): WAWebJS.Client {
    const launch = this.supervisor.launch;
    const client = launch?.client;
    if (this.lastStatus !== 'qr' || !launch || !client || !launch.isCurrent()) {
      throw new ServiceError('QR_NOT_AVAILABLE', 'A pairing code can be asked for only while the session shows a QR.', {
        details: { status: this.lastStatus ?? 'starting' },
      });
    }
    return client;
  }

  send(options: SendOptions): Promise<Message> {
    return this.operations.send(options);
  }

  listChats(options: CallOptions = {}): Promise<Chat[]> {
    return this.operations.listChats(options);
  }

  listMessages(options: ListMessagesOptions): Promise<Message[]> {
    return this.operations.listMessages(options);
  }

  listContacts(options: CallOptions = {}): Promise<Contact[]> {
    return this.operations.listContacts(options);
  }

  getContact(options: GetContactOptions): Promise<Contact | null> {
    return this.operations.getContact(options);
  }

  requestPairingCode(options: PairingCodeOptions): Promise<string> {
    return this.operations.requestPairingCode(options);
  }

  downloadMedia(options: MessageOptions): Promise<DownloadedMedia> {
    return this.operations.downloadMedia(options);
  }

  react(options: ReactOptions): Promise<void> {
    return this.operations.react(options);
  }

  edit(options: EditOptions): Promise<Message> {
    return this.operations.edit(options);
  }

  revoke(options: RevokeOptions): Promise<void> {
    return this.operations.revoke(options);
  }

  markRead(options: ChatOptions): Promise<void> {
    return this.operations.markRead(options);
  }
}
