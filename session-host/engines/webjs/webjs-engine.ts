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
 *
 * The library's own background promises are guarded here (inject after a navigation, destroy after a disconnect),
 * the engine's promises are all caught. The one process-wide change is the Node half of the id shim, installed
 * once on the library's Message class (a no-op for keys that have `_serialized`).
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'puppeteer';
import wwebjs from 'whatsapp-web.js';
import type WAWebJS from 'whatsapp-web.js';

/** The library's Message class: exported at run time, though its typings declare only the interface. */
const MessageStructure = (wwebjs as unknown as { Message: new (client: WAWebJS.Client, data: object) => WAWebJS.Message }).Message;
import {
  formatPairingCode,
  isLid,
  numberOfChatId,
  sessionIdSchema,
  type Me,
  type Message,
  type Chat,
  type Contact,
  type LastError,
} from '../../../contract/api.js';
import { RecipientNotOnWhatsAppError, ServiceError, SessionNotConnectedError, ValidationError } from '../../../contract/errors.js';
import { sleep, withTimeout } from '../../../lib/async.js';
import type { Logger } from '../../../lib/logger.js';
import type {
  CallOptions,
  Engine,
  EngineListener,
  EngineSession,
  EngineSessionOptions,
  EngineStatus,
  EngineStatusUpdate,
  GetContactOptions,
  ListMessagesOptions,
  PairingCodeOptions,
  SendOptions,
} from '../engine.js';
import {
  chromiumArgs,
  isAlive,
  killProfileProcesses,
  killTree,
  prepareProfile,
  removeSingletons,
  resolveChromePath,
  waitForExit,
} from './chromium.js';
import {
  ackName,
  ackRank,
  byNewestFirst,
  chatIdOf,
  isListedContact,
  isPersonMessage,
  messageIdOf,
  toChat,
  toContact,
  toMessage,
} from './convert.js';
import { classifyLaunchError, disconnectCause, messageOf, operationError } from './errors.js';
import { KnownIdentities, ownLid } from './identities.js';
import { InboundDedup } from './inbound-dedup.js';
import { installNodeMsgKeyShim, msgKeyShimExpression, type MsgKeyShimReport } from './msgkey-shim.js';

export { classifyLaunchError } from './errors.js';

const { Client, LocalAuth } = wwebjs;

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
  installNodeMsgKeyShim(MessageStructure as unknown as { prototype: object });
  const active = new Set<WebjsSession>();
  const log = options.logger.child({ engine: 'webjs' });
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

// ---------------------------------------------------------------------------------------------------------------

type LaunchMode = 'start' | 'restart' | 'relogin';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** One whatsapp-web.js Client and its browser; a session has at most one current handle. */
interface ClientHandle {
  gen: number;
  mode: LaunchMode;
  client: WAWebJS.Client | null;
  pid: number | undefined;
  browserKnown: Deferred;
  browserSeen: boolean;
  initialized: boolean;
  /** A QR or `ready` arrived: the launch deadline no longer applies. */
  signalled: boolean;
  ready: boolean;
  dead: boolean;
  teardown: Promise<void> | null;
  deadline: NodeJS.Timeout | null;
  liveness: NodeJS.Timeout | null;
  probing: boolean;
  /** What the page-side id shim last reported (logged when it changes). */
  shimReport: string | null;
}



const BROWSER_KNOWN_WAIT_MS = 15_000;
const DESTROY_TIMEOUT_MS = 5_000;
const LOGOUT_TIMEOUT_MS = 10_000;
const SHIM_TIMEOUT_MS = 5_000;

export class WebjsSession implements EngineSession {
  readonly profileDir: string;
  private readonly log: Logger;
  private readonly tuning: Required<
    Pick<
      WebjsEngineOptions,
      | 'livenessIntervalMs'
      | 'livenessTimeoutMs'
      | 'maxRestarts'
      | 'restartBaseDelayMs'
      | 'restartMaxDelayMs'
      | 'stableAfterMs'
      | 'operationTimeoutMs'
      | 'maxOldSpaceMb'
    >
  >;
  private running = false;
  private generation = 0;
  private handle: ClientHandle | null = null;
  private lastStatus: EngineStatus | null = null;
  private me: Me | null = null;
  private restartAttempts = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private stableTimer: NodeJS.Timeout | null = null;
  private loggedOutPending = false;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly inbound = new InboundDedup();
  private readonly identities = new KnownIdentities();

  constructor(
    readonly sessionId: string,
    private readonly listener: EngineListener,
    private readonly options: WebjsEngineOptions,
    private readonly onActive: (session: WebjsSession, active: boolean) => void,
  ) {
    this.profileDir = path.join(path.resolve(options.dataDir), `session-${sessionId}`);
    this.log = options.logger.child({ sessionId, engine: 'webjs' });
    this.tuning = {
      livenessIntervalMs: options.livenessIntervalMs ?? 15_000,
      livenessTimeoutMs: options.livenessTimeoutMs ?? 10_000,
      maxRestarts: options.maxRestarts ?? 5,
      restartBaseDelayMs: options.restartBaseDelayMs ?? 1_000,
      restartMaxDelayMs: options.restartMaxDelayMs ?? 60_000,
      stableAfterMs: options.stableAfterMs ?? 60_000,
      operationTimeoutMs: options.operationTimeoutMs ?? 30_000,
      maxOldSpaceMb: options.maxOldSpaceMb ?? 1_024,
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // For tests and diagnostics

  /** The page of the current client, once its browser runs. */
  currentPage(): Page | undefined {
    return this.handle?.client?.pupPage ?? undefined;
  }

  /** The pid of the current client's Chromium, once it runs. */
  browserPid(): number | undefined {
    return this.handle?.pid;
  }

  status(): EngineStatus | null {
    return this.lastStatus;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Lifecycle

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.onActive(this, true);
    this.restartAttempts = 0;
    this.lastStatus = null;
    this.track(this.launch('start'));
  }

  async stop(): Promise<void> {
    await this.shutDown();
    this.log.info('webjs session stopped');
  }

  async logout(): Promise<void> {
    const handle = this.handle;
    const client = handle?.client;
    const loggedIn = handle !== null && handle.ready && this.lastStatus === 'connected';
    this.running = false;
    this.generation += 1;
    if (loggedIn && client) {
      try {
        // Unlinks the device on WhatsApp's side, closes the browser, deletes the profile.
        await withTimeout(client.logout(), { timeoutMs: LOGOUT_TIMEOUT_MS, what: 'logging out' });
      } catch (error) {
        this.log.warn({ err: error }, 'logout in WhatsApp Web failed; removing the local login anyway');
      }
    }
    await this.shutDown();
    await rm(this.profileDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    this.me = null;
    this.log.info('webjs session logged out and its data removed');
  }

  private async shutDown(): Promise<void> {
    this.running = false;
    this.generation += 1;
    this.clearSessionTimers();
    const handle = this.handle;
    this.handle = null;
    if (handle) await this.teardown(handle);
    // Our background tasks end quickly once the browser is gone; never wait on them forever.
    await Promise.race([Promise.allSettled([...this.pending]), sleep(BROWSER_KNOWN_WAIT_MS)]);
    let left = await killProfileProcesses(this.profileDir);
    // A zygote can fork a renderer while the browser dies; look once more after that window has passed.
    await sleep(150);
    left = [...left, ...(await killProfileProcesses(this.profileDir))];
    if (left.length > 0) this.log.error({ pids: left }, 'Chromium processes survived SIGKILL');
    this.onActive(this, false);
  }

  /** Keeps a background promise of ours caught, and known to stop(). */
  private track(promise: Promise<unknown>): void {
    const caught = promise.catch((error: unknown) => this.log.error({ err: error }, 'webjs engine task failed'));
    this.pending.add(caught);
    void caught.finally(() => this.pending.delete(caught));
  }

  private clearSessionTimers(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.restartTimer = null;
    this.stableTimer = null;
  }

  private isCurrent(handle: ClientHandle): boolean {
    return this.running && !handle.dead && this.handle === handle && handle.gen === this.generation;
  }

  private report(update: EngineStatusUpdate): void {
    this.lastStatus = update.status;
    this.log.info(
      { status: update.status, lastError: update.lastError, loggedOut: update.loggedOut },
      'webjs session status',
    );
    try {
      this.listener.onStatus(update);
    } catch (error) {
      this.log.error({ err: error }, 'the status listener threw');
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Launching a client

  private async launch(mode: LaunchMode): Promise<void> {
    if (!this.running) return;
    this.generation += 1;
    const handle: ClientHandle = {
      gen: this.generation,
      mode,
      client: null,
      pid: undefined,
      browserKnown: deferred(),
      browserSeen: false,
      initialized: false,
      signalled: false,
      ready: false,
      dead: false,
      teardown: null,
      deadline: null,
      liveness: null,
      probing: false,
      shimReport: null,
    };
    this.handle = handle;
    this.log.info({ mode }, 'starting whatsapp-web.js');
    let chromePath: string;
    try {
      chromePath = resolveChromePath(this.options.chromePath);
      await mkdir(this.options.dataDir, { recursive: true });
      const prepared = await prepareProfile(this.profileDir);
      if (prepared.killed.length > 0 || prepared.removed.length > 0) {
        this.log.warn(prepared, 'cleaned the profile before launch (a previous Chromium did not exit cleanly)');
      }
    } catch (error) {
      handle.browserKnown.resolve();
      if (this.isCurrent(handle)) await this.failLaunch(handle, classifyLaunchError(error));
      return;
    }
    if (!this.isCurrent(handle)) {
      handle.browserKnown.resolve();
      return;
    }
    handle.deadline = setTimeout(() => {
      if (!handle.signalled && this.isCurrent(handle)) {
        this.track(
          this.failLaunch(handle, {
            code: 'WHATSAPP_UNREACHABLE',
            message: `WhatsApp Web did not show a QR or connect within ${this.options.initTimeoutMs} ms`,
          }),
        );
      }
    }, this.options.initTimeoutMs);
    try {
      const client = this.createClient(handle, chromePath);
      handle.client = client;
      await client.initialize();
    } catch (error) {
      handle.browserKnown.resolve();
      if (this.isCurrent(handle)) await this.failLaunch(handle, classifyLaunchError(error));
      return;
    }
    handle.browserKnown.resolve();
    if (!this.isCurrent(handle)) return;
    handle.initialized = true;
    this.startLiveness(handle);
  }

  private createClient(handle: ClientHandle, chromePath: string): WAWebJS.Client {
    const { webCacheDir, webVersion } = this.options;
    const useCache = webCacheDir !== undefined && webCacheDir !== '' && webVersion !== undefined && webVersion !== '';
    const auth = new LocalAuth({ clientId: this.sessionId, dataPath: path.resolve(this.options.dataDir) });
    const client = new Client({
      authStrategy: auth,
      puppeteer: {
        executablePath: chromePath,
        headless: true,
        args: chromiumArgs({ maxOldSpaceMb: this.tuning.maxOldSpaceMb }),
        // A pipe, not a debugging port any local process could connect to.
        pipe: true,
        // The session host owns signals; Puppeteer still kills its browsers when Node exits.
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
        timeout: Math.min(this.options.initTimeoutMs, 30_000),
        protocolTimeout: Math.max(this.tuning.operationTimeoutMs, 60_000),
      },
      // Without a cache directory, the page comes from the network and nothing is written to the working directory.
      webVersionCache: useCache ? { type: 'local', path: webCacheDir, strict: true } : { type: 'none' },
      ...(useCache ? { webVersion } : {}),
      authTimeoutMs: this.options.initTimeoutMs,
      qrMaxRetries: 0,
      takeoverOnConflict: false,
    });

    // Learn the browser as soon as it exists (a stop during launch must be able to kill it).
    auth.afterBrowserInitialized = async () => {
      if (handle.browserSeen) return; // called again by the library after a logout navigation
      handle.browserSeen = true;
      const browser = client.pupBrowser;
      const child = browser?.process();
      handle.pid = child?.pid ?? undefined;
      // With `pipe: true` Puppeteer reads CDP from fd 3/4 but drops its error listeners when the connection closes;
      // a SIGKILLed Chromium then resets the pipe (ECONNRESET) with no listener: an uncaught exception. Keep one.
      for (const stream of child?.stdio ?? []) {
        stream?.on('error', (error: Error) => this.log.debug({ err: error }, 'Chromium pipe error'));
      }
      child?.once('exit', (code, signal) => {
        this.onBrowserLost(handle, `Chromium exited (code ${String(code)}, signal ${String(signal)})`);
      });
      handle.browserKnown.resolve();
      if (handle.dead) throw new Error('the session was stopped while its browser started');
    };

    // Guard the library's own background work: inject() after a navigation and destroy() after a disconnect run
    // with nobody awaiting them; a browser torn down meanwhile must not become an unhandled rejection.
    const internals = client as unknown as { inject: () => Promise<void> };
    const inject = internals.inject.bind(client);
    let injections = 0;
    internals.inject = async () => {
      injections += 1;
      if (injections === 1) {
        await inject(); // initialize()'s own: its errors are the launch's
        await this.installPageShim(handle, client);
        return;
      }
      try {
        await inject();
        await this.installPageShim(handle, client);
      } catch (error) {
        if (this.isCurrent(handle)) {
          this.log.warn({ err: error }, 'whatsapp-web.js could not re-inject after a navigation');
          this.onBrowserLost(handle, `WhatsApp Web could not be re-injected: ${messageOf(error)}`);
        }
      }
    };
    // The id shim must be in place before the library reads a message key. It reads none before WhatsApp Web has
    // synced; and on every sync, before it loads its helpers and attaches its listeners, it asks the auth strategy
    // for the `authenticated` payload: the hook for the page-side shim (all of WhatsApp Web's modules are loaded).
    const authInternals = auth as unknown as { getAuthEventPayload: () => Promise<unknown> };
    const authEventPayload = authInternals.getAuthEventPayload.bind(auth);
    authInternals.getAuthEventPayload = async () => {
      await this.installPageShim(handle, client);
      return authEventPayload();
    };
    const destroy = client.destroy.bind(client);
    client.destroy = async () => {
      try {
        await destroy();
      } catch (error) {
        this.log.debug({ err: error }, 'destroy failed (the browser was already gone)');
      }
    };

    client.on('qr', (qr: string) => {
      if (!this.isCurrent(handle)) return;
      this.signal(handle);
      const update: EngineStatusUpdate = { status: 'qr', qr };
      if (this.loggedOutPending) {
        update.loggedOut = true;
        this.loggedOutPending = false;
      }
      this.report(update);
    });
    client.on('authenticated', () => {
      if (!this.isCurrent(handle)) return;
      if (this.lastStatus !== 'authenticated' && this.lastStatus !== 'connected') this.report({ status: 'authenticated' });
    });
    client.on('ready', () => {
      if (this.isCurrent(handle)) this.onReady(handle, client);
    });
    client.on('disconnected', (reason: unknown) => {
      if (this.isCurrent(handle)) this.onDisconnected(handle, String(reason));
    });
    client.on('message', (message: WAWebJS.Message) => {
      if (this.isCurrent(handle)) this.onIncoming(message);
    });
    client.on('message_ack', (message: WAWebJS.Message, ack: number) => {
      if (this.isCurrent(handle)) this.onAck(message, ack);
    });
    client.on('change_state', (state: unknown) => {
      if (this.isCurrent(handle)) this.log.debug({ state }, 'WhatsApp Web state');
    });
    return client;
  }

  /** Runs the page-side id shim (msgkey-shim.ts); idempotent, never throws; logs what it did when that changes. */
  private async installPageShim(handle: ClientHandle, client: WAWebJS.Client): Promise<void> {
    const page = client.pupPage;
    if (!page || handle.dead || this.options.pageIdShim === false) return;
    try {
      const report = (await withTimeout(page.evaluate(msgKeyShimExpression), { timeoutMs: SHIM_TIMEOUT_MS, what: 'the id shim' })) as MsgKeyShimReport;
      // Installed once per page load; later runs answer "already installed", which is no news.
      const summary = report.patched ? `patched:${String(report.alias)}` : JSON.stringify(report);
      if (summary === handle.shimReport) return;
      handle.shimReport = summary;
      this.log.info({ msgKeyShim: report }, report.patched ? 'message-id shim installed in WhatsApp Web' : 'message-id shim not needed or not possible yet');
    } catch (error) {
      this.log.debug({ err: error }, 'the message-id shim could not run (the page is changing)');
    }
  }

  private signal(handle: ClientHandle): void {
    handle.signalled = true;
    if (handle.deadline) clearTimeout(handle.deadline);
    handle.deadline = null;
  }

  /** A launch that did not get to a QR or `connected`. */
  private async failLaunch(handle: ClientHandle, lastError: NonNullable<LastError>): Promise<void> {
    if (handle.dead) return;
    this.generation += 1;
    if (this.handle === handle) this.handle = null;
    this.log.warn({ lastError, mode: handle.mode }, 'whatsapp-web.js did not start');
    await this.teardown(handle);
    if (!this.running) return;
    if (handle.mode === 'restart' && lastError.code !== 'CHROME_NOT_FOUND') {
      this.scheduleRestart(lastError);
      return;
    }
    this.running = false;
    // After a logout from the phone the data is already gone: say so, a later start begins with a QR.
    this.report({ status: 'failed', lastError, loggedOut: handle.mode === 'relogin' });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Events of a running client

  private onReady(handle: ClientHandle, client: WAWebJS.Client): void {
    this.signal(handle);
    handle.ready = true;
    this.track(this.reportReady(handle, client));
  }

  private async reportReady(handle: ClientHandle, client: WAWebJS.Client): Promise<void> {
    const info = client.info as WAWebJS.ClientInfo | undefined;
    const lid = await ownLid(client, this.log);
    if (!this.isCurrent(handle)) return;
    const me: Me = {
      id: info?.wid?._serialized ?? '',
      pushName: typeof info?.pushname === 'string' ? info.pushname : '',
      lid,
    };
    if (me.id !== '' && lid !== null) this.identities.learn(me.id, { lid, phone: me.id.endsWith('@c.us') ? numberOfChatId(me.id) : null });
    if (this.lastStatus === 'connected' && this.me?.id === me.id && this.me.pushName === me.pushName && this.me.lid === me.lid) return;
    this.me = me;
    this.report({ status: 'connected', me });
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => {
      this.stableTimer = null;
      this.restartAttempts = 0;
    }, this.tuning.stableAfterMs);
    this.stableTimer.unref();
  }

  private onDisconnected(handle: ClientHandle, reason: string): void {
    const { loggedOut, lastError } = disconnectCause(reason);
    if (loggedOut) {
      this.generation += 1;
      this.handle = null;
      this.clearSessionTimers();
      this.me = null;
      this.report({ status: 'disconnected', lastError });
      this.track(this.relogin(handle));
      return;
    }
    this.report({ status: 'disconnected', lastError });
    this.recover(handle, lastError);
  }

  private onBrowserLost(handle: ClientHandle, message: string): void {
    // Before initialize() settles, the launch itself reports what went wrong.
    if (!this.isCurrent(handle) || !handle.initialized) return;
    const lastError = { code: 'BROWSER_CRASHED', message };
    this.report({ status: 'disconnected', lastError });
    this.recover(handle, lastError);
  }

  private recover(handle: ClientHandle, lastError: NonNullable<LastError>): void {
    this.generation += 1;
    if (this.handle === handle) this.handle = null;
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = null;
    this.track(this.teardown(handle).then(() => this.scheduleRestart(lastError)));
  }

  private async relogin(handle: ClientHandle): Promise<void> {
    await this.teardown(handle);
    if (!this.running) return;
    await rm(this.profileDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    this.loggedOutPending = true;
    this.restartAttempts = 0;
    await this.launch('relogin');
  }

  private scheduleRestart(lastError: NonNullable<LastError>): void {
    if (!this.running) return;
    if (this.restartAttempts >= this.tuning.maxRestarts) {
      this.running = false;
      this.report({
        status: 'failed',
        lastError: {
          code: lastError.code,
          message: `${lastError.message} Gave up after ${this.tuning.maxRestarts} restarts.`,
        },
        loggedOut: false,
      });
      return;
    }
    const attempt = this.restartAttempts;
    this.restartAttempts += 1;
    const cap = Math.min(this.tuning.restartMaxDelayMs, this.tuning.restartBaseDelayMs * 2 ** attempt);
    const delayMs = Math.round(cap / 2 + (Math.random() * cap) / 2);
    this.log.info({ attempt: attempt + 1, delayMs }, 'restarting whatsapp-web.js');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.track(this.launch('restart'));
    }, delayMs);
  }

  private startLiveness(handle: ClientHandle): void {
    handle.liveness = setInterval(() => {
      if (handle.probing || !this.isCurrent(handle)) return;
      handle.probing = true;
      this.track(
        this.probe(handle).finally(() => {
          handle.probing = false;
        }),
      );
    }, this.tuning.livenessIntervalMs);
    handle.liveness.unref();
  }

  private async probe(handle: ClientHandle): Promise<void> {
    const page = handle.client?.pupPage;
    const browser = handle.client?.pupBrowser;
    try {
      if (!page || !browser?.connected) throw new Error('the browser is not connected');
      await withTimeout(page.evaluate(() => 1), { timeoutMs: this.tuning.livenessTimeoutMs, what: 'the liveness probe' });
    } catch (error) {
      if (this.isCurrent(handle)) this.onBrowserLost(handle, `WhatsApp Web's page stopped answering: ${messageOf(error)}`);
    }
  }

  /** Destroys a client's browser for sure: destroy() (bounded), then SIGKILL of its process group and profile. */
  private teardown(handle: ClientHandle): Promise<void> {
    if (handle.teardown) return handle.teardown;
    handle.dead = true;
    if (handle.deadline) clearTimeout(handle.deadline);
    if (handle.liveness) clearInterval(handle.liveness);
    handle.deadline = null;
    handle.liveness = null;
    const work = (async () => {
      await Promise.race([handle.browserKnown.promise, sleep(BROWSER_KNOWN_WAIT_MS)]);
      const client = handle.client;
      if (client) {
        try {
          await withTimeout(client.destroy(), { timeoutMs: DESTROY_TIMEOUT_MS, what: 'closing Chromium' });
        } catch (error) {
          this.log.warn({ err: error }, 'Chromium did not close; killing it');
        }
      }
      const pid = handle.pid;
      if (pid !== undefined) {
        // The whole process group, even when the browser itself already exited: its zygote and renderers may not have.
        killTree(pid);
        if (isAlive(pid)) await waitForExit(pid, 3_000);
      }
      const left = await killProfileProcesses(this.profileDir);
      if (left.length > 0) this.log.error({ pids: left }, 'Chromium processes survived SIGKILL');
      else await removeSingletons(this.profileDir);
    })();
    handle.teardown = work.catch((error: unknown) => {
      this.log.error({ err: error }, 'tearing down Chromium failed');
    });
    return handle.teardown;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Messages

  private onIncoming(message: WAWebJS.Message): void {
    if (message.fromMe || !isPersonMessage(message)) return;
    const id = messageIdOf(message);
    if (id === '') {
      this.log.warn({ key: message.id }, 'an incoming message has no id this engine can read; reported without de-duplication');
    } else if (!this.inbound.isFirstSighting(id)) {
      return;
    }
    try {
      this.listener.onMessage(toMessage(message, { me: this.me, known: this.identities.lookup }));
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
      this.listener.onAck({ messageId, chatId: chatIdOf(message), ack });
    } catch (error) {
      this.log.error({ err: error }, 'the ack listener threw');
    }
  }

  private connectedClient(): WAWebJS.Client {
    const handle = this.handle;
    if (!handle || !handle.ready || !handle.client || this.lastStatus !== 'connected' || !this.isCurrent(handle)) {
      throw new SessionNotConnectedError(this.sessionId, this.lastStatus ?? 'starting');
    }
    return handle.client;
  }

  /**
   * A call into the page, bounded by the engine's own operation timeout and by the caller's deadline (`signal`):
   * whichever comes first abandons it, and its timer is cleared on every path.
   */
  private async call<T>(what: string, work: (client: WAWebJS.Client) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const client = this.connectedClient();
    try {
      return await withTimeout(work(client), { timeoutMs: this.tuning.operationTimeoutMs, what, signal });
    } catch (error) {
      throw operationError(error, {
        sessionId: this.sessionId,
        signal,
        timeoutMessage: `WhatsApp Web did not finish ${what} within ${this.tuning.operationTimeoutMs} ms.`,
      });
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Commands

  /**
   * Where a send may go, decided before anything is sent: an existing chat; a phone id or LID that WhatsApp says is
   * on it (resolved to the id WhatsApp gives); anything else is refused and nothing is sent.
   */
  private async resolveRecipient(client: WAWebJS.Client, chatId: string): Promise<string> {
    const page = client.pupPage;
    if (!page) throw new SessionNotConnectedError(this.sessionId, 'disconnected');
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
      if (!result || !result.wid) return { kind: 'not-on-whatsapp' as const };
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

  async send({ chatId, text, signal }: SendOptions): Promise<Message> {
    // Before the send: refusals here are sure to have sent nothing.
    const target = await this.call('resolving the recipient', (client) => this.resolveRecipient(client, chatId), signal);
    const client = this.connectedClient();
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
        { timeoutMs: this.tuning.operationTimeoutMs, what: 'sending the message' },
      )) ?? undefined;
    } catch (error) {
      this.log.warn({ err: error, chatId }, 'sending failed after it began; its outcome is unknown');
      throw unknownOutcome(`WhatsApp Web failed while sending (${messageOf(error)})`, error);
    }
    if (!sent || messageIdOf(sent) === '') {
      this.log.warn({ chatId }, 'whatsapp-web.js gave no message back for a send');
      throw unknownOutcome('WhatsApp Web did not give the sent message back');
    }
    const current = ackName(sent.ack);
    const ack = current === 'failed' || ackRank(current) > ackRank('sent') ? current : 'sent';
    const message = toMessage(sent, { ack, me: this.me, known: this.identities.lookup });
    this.inbound.sentWithAck(message.id, ack);
    return message;
  }

  async listChats({ signal }: CallOptions = {}): Promise<Chat[]> {
    return this.call('listing chats', async (client) => {
      const chats = (await client.getChats()).filter((chat) => /@(c\.us|g\.us|lid)$/.test(serializedId(chat.id)));
      await this.identities.lookUp(client, chats.map((chat) => serializedId(chat.id)));
      return chats.map((chat) => toChat(chat, { me: this.me, known: this.identities.lookup })).sort(byNewestFirst);
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
      await this.identities.lookUp(client, [chatId, ...messages.map((message) => (message.author ?? message.from) || '')]);
      return messages.map((message) => toMessage(message, { me: this.me, known: this.identities.lookup }));
    }, signal);
  }

  async listContacts({ signal }: CallOptions = {}): Promise<Contact[]> {
    return this.call('listing contacts', async (client) => {
      const contacts = (await client.getContacts()).filter(isListedContact);
      await this.identities.lookUp(client, contacts.map((contact) => serializedId(contact.id)));
      return contacts.map((contact) => toContact(contact, this.identities.lookup));
    }, signal);
  }

  async getContact({ contactId, signal }: GetContactOptions): Promise<Contact | null> {
    return this.call('looking up the contact', async (client) => {
      if (!contactId.endsWith('@c.us') && !isLid(contactId)) {
        // Groups and the like: what the session's own contact list says, nothing to ask WhatsApp.
        const listed = (await client.getContacts()).find((contact) => serializedId(contact.id) === contactId);
        return listed === undefined ? null : toContact(listed, this.identities.lookup);
      }
      // WhatsApp's answer for both identities (it asks WhatsApp's servers when it does not know the id yet).
      const [ids] = await client.getContactLidAndPhone([contactId]);
      const lid = typeof ids?.lid === 'string' && ids.lid !== '' ? ids.lid : null;
      const phoneId = typeof ids?.pn === 'string' && ids.pn !== '' ? ids.pn : null;
      if (lid === null && phoneId === null) return null;
      this.identities.learn(contactId, { lid, phone: phoneId === null ? null : numberOfChatId(phoneId) });
      let contact: WAWebJS.Contact | null = null;
      try {
        contact = await client.getContactById(contactId);
      } catch (error) {
        this.log.debug({ err: error, contactId }, 'WhatsApp Web has no contact model for this id');
      }
      const converted = contact === null ? null : toContact(contact, this.identities.lookup);
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
    const handle = this.handle;
    const client = handle?.client;
    if (this.lastStatus !== 'qr' || !handle || !client || !this.isCurrent(handle)) {
      throw new ServiceError('QR_NOT_AVAILABLE', 'A pairing code can be asked for only while the session shows a QR.', {
        details: { status: this.lastStatus ?? 'starting' },
      });
    }
    let code: unknown;
    try {
      code = await withTimeout(client.requestPairingCode(phone, true), {
        timeoutMs: this.tuning.operationTimeoutMs,
        what: 'asking for a pairing code',
        signal,
      });
    } catch (error) {
      throw operationError(error, {
        sessionId: this.sessionId,
        signal,
        timeoutMessage: `WhatsApp Web did not give a pairing code within ${this.tuning.operationTimeoutMs} ms.`,
      });
    }
    if (typeof code !== 'string' || !/^[A-Za-z0-9]{4}-?[A-Za-z0-9]{4}$/.test(code)) {
      throw new ServiceError('INTERNAL', `WhatsApp Web answered a pairing code this engine does not understand: ${String(code)}`);
    }
    this.log.info({ phone }, 'pairing code issued');
    return formatPairingCode(code);
  }
}

function serializedId(id: unknown): string {
  if (typeof id === 'string') return id;
  if (id !== null && typeof id === 'object') {
    const inner = (id as { _serialized?: unknown })._serialized;
    if (typeof inner === 'string') return inner;
  }
  return '';
}
