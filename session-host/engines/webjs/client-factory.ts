/**
 * Builds the whatsapp-web.js Client of one launch: LocalAuth on the session's profile, the web cache, Chromium's
 * flags, and the library patches this engine depends on:
 * - the library's own background promises (inject after a navigation, destroy after a disconnect) are guarded, so
 *   a browser torn down meanwhile is never an unhandled rejection;
 * - the page half of the message-id shim (msgkey-shim.ts) runs after every inject and before the library reads any
 *   key; the Node half is installed once per process (`installLibraryPatches`).
 * Library events reach the engine only while the launch is current.
 */
import path from 'node:path';
import wwebjs from 'whatsapp-web.js';
import type WAWebJS from 'whatsapp-web.js';
import { withTimeout } from '../../../lib/async.js';
import type { Logger } from '../../../lib/logger.js';
import { chromiumArgs } from './chromium.js';
import { messageOf } from './errors.js';
import { installNodeMsgKeyShim, msgKeyShimExpression, type MsgKeyShimReport } from './msgkey-shim.js';
import type { Launch } from './supervisor.js';

const { Client, LocalAuth } = wwebjs;

/** The library's Message class: exported at run time, though its typings declare only the interface. */
export const MessageStructure = (wwebjs as unknown as { Message: new (client: WAWebJS.Client, data: object) => WAWebJS.Message }).Message;

/** The Node half of the id shim: process-wide, idempotent (a no-op for keys that have `_serialized`). */
export function installLibraryPatches(): void {
  installNodeMsgKeyShim(MessageStructure as unknown as { prototype: object });
}

const SHIM_TIMEOUT_MS = 5_000;

export interface ClientSettings {
  sessionId: string;
  /** LocalAuth keeps the profile at `<dataDir>/session-<sessionId>`. */
  dataDir: string;
  initTimeoutMs: number;
  operationTimeoutMs: number;
  maxOldSpaceMb: number;
  webCacheDir?: string | undefined;
  webVersion?: string | undefined;
  /** The page half of the id shim; off only in tests, to show what it fixes. */
  pageIdShim: boolean;
  logger: Logger;
}

/** What the engine hears of a current launch's client. */
export interface ClientEvents {
  qr(qr: string): void;
  authenticated(): void;
  ready(): void;
  disconnected(reason: string): void;
  message(message: WAWebJS.Message): void;
  ack(message: WAWebJS.Message, ack: number): void;
  /** A reaction stored by WhatsApp Web: anyone's, the account's own included. */
  reaction(reaction: WAWebJS.Reaction): void;
  /** A message's text (or caption) changed: an edit, anyone's. */
  edit(message: WAWebJS.Message, newBody: unknown, previousBody: unknown): void;
  /** A message became `revoked` (deleted for everyone): `message` in its revoked state. */
  revokedForEveryone(message: WAWebJS.Message, before: WAWebJS.Message | null | undefined): void;
}

export function createClient(launch: Launch<WAWebJS.Client>, chromePath: string, settings: ClientSettings, events: ClientEvents): WAWebJS.Client {
  const { webCacheDir, webVersion, logger: log } = settings;
  const useCache = webCacheDir !== undefined && webCacheDir !== '' && webVersion !== undefined && webVersion !== '';
  const auth = new LocalAuth({ clientId: settings.sessionId, dataPath: path.resolve(settings.dataDir) });
  const client = new Client({
    authStrategy: auth,
    puppeteer: {
      executablePath: chromePath,
      headless: true,
      args: chromiumArgs({ maxOldSpaceMb: settings.maxOldSpaceMb }),
      // A pipe, not a debugging port any local process could connect to.
      pipe: true,
      // The session host owns signals; Puppeteer still kills its browsers when Node exits.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      timeout: Math.min(settings.initTimeoutMs, 30_000),
      protocolTimeout: Math.max(settings.operationTimeoutMs, 60_000),
    },
    // Without a cache directory, the page comes from the network and nothing is written to the working directory.
    webVersionCache: useCache ? { type: 'local', path: webCacheDir, strict: true } : { type: 'none' },
    ...(useCache ? { webVersion } : {}),
    authTimeoutMs: settings.initTimeoutMs,
    qrMaxRetries: 0,
    takeoverOnConflict: false,
  });

  // The earliest hook with the browser running: a stop during launch must be able to kill it.
  auth.afterBrowserInitialized = async () => {
    launch.browserStarted(client.pupBrowser?.process(), log);
  };

  const installPageShim = pageShimInstaller(launch, client, settings);
  // inject() after a navigation runs with nobody awaiting it; a browser torn down meanwhile must not become an
  // unhandled rejection, and a page that cannot take the library any more is a lost browser.
  const internals = client as unknown as { inject: () => Promise<void> };
  const inject = internals.inject.bind(client);
  let injections = 0;
  internals.inject = async () => {
    injections += 1;
    if (injections === 1) {
      await inject(); // initialize()'s own: its errors are the launch's
      await defineNameHelper(client);
      await installPageShim();
      return;
    }
    try {
      await inject();
      await defineNameHelper(client);
      await installPageShim();
    } catch (error) {
      if (launch.isCurrent()) {
        log.warn({ err: error }, 'whatsapp-web.js could not re-inject after a navigation');
        launch.lost(`WhatsApp Web could not be re-injected: ${messageOf(error)}`);
      }
    }
  };
  // The id shim must be in place before the library reads a message key. It reads none before WhatsApp Web has
  // synced; and on every sync, before it loads its helpers and attaches its listeners, it asks the auth strategy
  // for the `authenticated` payload: the hook for the page-side shim (all of WhatsApp Web's modules are loaded).
  const authInternals = auth as unknown as { getAuthEventPayload: () => Promise<unknown> };
  const authEventPayload = authInternals.getAuthEventPayload.bind(auth);
  authInternals.getAuthEventPayload = async () => {
    await installPageShim();
    return authEventPayload();
  };
  // The library calls destroy() after every disconnect without awaiting it; the browser may be gone already.
  const destroy = client.destroy.bind(client);
  client.destroy = async () => {
    try {
      await destroy();
    } catch (error) {
      log.debug({ err: error }, 'destroy failed (the browser was already gone)');
    }
  };

  client.on('qr', (qr: string) => {
    if (launch.isCurrent()) events.qr(qr);
  });
  client.on('authenticated', () => {
    if (launch.isCurrent()) events.authenticated();
  });
  client.on('ready', () => {
    if (launch.isCurrent()) events.ready();
  });
  client.on('disconnected', (reason: unknown) => {
    if (launch.isCurrent()) events.disconnected(String(reason));
  });
  client.on('message', (message: WAWebJS.Message) => {
    if (launch.isCurrent()) events.message(message);
  });
  client.on('message_ack', (message: WAWebJS.Message, ack: number) => {
    if (launch.isCurrent()) events.ack(message, ack);
  });
  client.on('message_reaction', (reaction: WAWebJS.Reaction) => {
    if (launch.isCurrent()) events.reaction(reaction);
  });
  client.on('message_edit', (message: WAWebJS.Message, newBody: unknown, previousBody: unknown) => {
    if (launch.isCurrent()) events.edit(message, newBody, previousBody);
  });
  client.on('message_revoke_everyone', (message: WAWebJS.Message, before?: WAWebJS.Message | null) => {
    if (launch.isCurrent()) events.revokedForEveryone(message, before);
  });
  client.on('change_state', (state: unknown) => {
    if (launch.isCurrent()) log.debug({ state }, 'WhatsApp Web state');
  });
  return client;
}

/**
 * Our functions passed to `page.evaluate` are serialized from the code as it runs. Compiled with esbuild's keepNames
 * (tsx does so, and so may a bundle), a named inner function becomes `__name(fn, "name")`, a helper that exists in
 * Node and not in the page: every such evaluate would throw `__name is not defined`. The page gets a stand-in that
 * names nothing (a string, so that it is not compiled itself).
 */
async function defineNameHelper(client: WAWebJS.Client): Promise<void> {
  await client.pupPage?.evaluate('globalThis.__name ??= (target) => target; undefined');
}

/**
 * The page-side id shim of one client (msgkey-shim.ts): idempotent, never throws (the page may be navigating);
 * logs its report only when it changes, since every run after the first answers "already installed".
 */
function pageShimInstaller(launch: Launch<WAWebJS.Client>, client: WAWebJS.Client, settings: ClientSettings): () => Promise<void> {
  let lastSummary: string | null = null;
  return async () => {
    const page = client.pupPage;
    if (!page || launch.dead || !settings.pageIdShim) return;
    try {
      const report = (await withTimeout(page.evaluate(msgKeyShimExpression), { timeoutMs: SHIM_TIMEOUT_MS, what: 'the id shim' })) as MsgKeyShimReport;
      const summary = report.patched ? `patched:${String(report.alias)}` : JSON.stringify(report);
      if (summary === lastSummary) return;
      lastSummary = summary;
      settings.logger.info(
        { msgKeyShim: report },
        report.patched ? 'message-id shim installed in WhatsApp Web' : 'message-id shim not needed or not possible yet',
      );
    } catch (error) {
      settings.logger.debug({ err: error }, 'the message-id shim could not run (the page is changing)');
    }
  };
}
