/**
 * The webjs engine against the REAL whatsapp-web.js 1.34.7, Puppeteer and Debian's Chromium, with a stand-in for
 * WhatsApp Web (test/fixtures/whatsapp-web-standin) served through the library's local web cache.
 * One browser at a time: the tests of this file run in sequence.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { chatSchema, contactSchema, messageSchema } from '../../contract/api.js';
import { createWebjsEngine, type WebjsEngineOptions, type WebjsSession } from '../../session-host/engines/webjs/webjs-engine.js';
import { StandinControl, writeStandinWebCache } from '../fixtures/whatsapp-web-standin/standin.js';
import { chromiumOn, RecordingListener, testLogger, waitFor } from './helpers.js';

const cacheDir = mkdtempSync(path.join(tmpdir(), 'webjs-cache-'));
const standin = writeStandinWebCache(cacheDir);
const ME = '15550009999@c.us';
const ALICE = '15550100001@c.us';

interface Setup {
  dataDir: string;
  listener: RecordingListener;
  session: WebjsSession;
  profileDir: string;
}

const cleanups: Array<() => Promise<void>> = [];

function setup(overrides: Partial<WebjsEngineOptions> = {}, sessionId = 'alice'): Setup {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'webjs-data-'));
  const listener = new RecordingListener();
  const engine = createWebjsEngine({
    dataDir,
    initTimeoutMs: 20_000,
    ...standin,
    logger: testLogger,
    livenessIntervalMs: 1_000,
    livenessTimeoutMs: 3_000,
    restartBaseDelayMs: 200,
    restartMaxDelayMs: 1_000,
    ...overrides,
  });
  const session = engine.openSession({ sessionId, listener });
  cleanups.push(async () => {
    await session.stop();
    await engine.close();
    expect(chromiumOn(session.profileDir)).toEqual([]);
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { dataDir, listener, session, profileDir: session.profileDir };
}

function control(s: Setup): StandinControl {
  const page = s.session.currentPage();
  if (!page) throw new Error('no page');
  return new StandinControl(page);
}

async function scanAndConnect(s: Setup): Promise<StandinControl> {
  await s.listener.waitForStatus((u) => u.status === 'qr');
  const standinPage = control(s);
  await standinPage.scan({ me: ME, pushName: 'Tester' });
  await s.listener.waitForStatus((u) => u.status === 'connected');
  return standinPage;
}

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

afterAll(() => {
  rmSync(cacheDir, { recursive: true, force: true });
});

describe('webjs engine (real whatsapp-web.js + Chromium, stand-in WhatsApp Web)', () => {
  it('goes qr → authenticated → connected, receives once, sends with acks, lists chats, history and contacts', async () => {
    const s = setup();
    await s.session.start();
    const qr = await s.listener.waitForStatus((u) => u.status === 'qr');
    expect(qr.qr).toMatch(/^2@[0-9A-F]+,.+,.+,.+,Chrome$/);

    // The QR rotates: each rotation is reported.
    const standinPage = control(s);
    await standinPage.rotateQr();
    await waitFor('a second QR', () => s.listener.statuses.filter((u) => u.status === 'qr').length >= 2);

    await standinPage.scan({ me: ME, pushName: 'Tester' });
    const connected = await s.listener.waitForStatus((u) => u.status === 'connected');
    expect(connected.me).toEqual({ id: ME, pushName: 'Tester' });
    expect(s.listener.statuses.map((u) => u.status)).toEqual(['qr', 'qr', 'authenticated', 'connected']);

    // Incoming: once, even when WhatsApp Web announces it twice.
    await standinPage.incoming({ from: '15550100002@c.us', body: 'hello gateway', pushName: 'bob', duplicate: true });
    const incoming = await waitFor('the incoming message', () => s.listener.messages[0]);
    expect(messageSchema.parse(incoming)).toMatchObject({
      chatId: '15550100002@c.us',
      from: '15550100002@c.us',
      to: ME,
      fromMe: false,
      type: 'chat',
      body: 'hello gateway',
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(s.listener.messages).toHaveLength(1);

    // Send: the answer says `sent`; delivered and read follow as acks.
    const sent = await s.session.sendText(ALICE, 'hi from the gateway');
    expect(messageSchema.parse(sent)).toMatchObject({ chatId: ALICE, to: ALICE, from: ME, fromMe: true, body: 'hi from the gateway', ack: 'sent' });
    await waitFor('delivered and read acks', () => s.listener.acks.length >= 2);
    expect(s.listener.acks).toEqual([
      { messageId: sent.id, chatId: ALICE, ack: 'delivered' },
      { messageId: sent.id, chatId: ALICE, ack: 'read' },
    ]);
    expect(s.listener.messages).toHaveLength(1); // own sends are not incoming messages

    const chats = await s.session.listChats();
    for (const chat of chats) chatSchema.parse(chat);
    expect(chats[0]).toMatchObject({ id: ALICE, isGroup: false, lastMessage: { id: sent.id } });
    expect(chats.map((c) => c.timestamp)).toEqual([...chats.map((c) => c.timestamp)].sort().reverse());
    expect(chats.find((c) => c.id.endsWith('@g.us'))).toMatchObject({ isGroup: true, name: 'Stand-in Group' });
    expect(chats.find((c) => c.id === '15550100002@c.us')).toMatchObject({ unreadCount: 1 });

    const history = await s.session.listMessages(ALICE, 50);
    for (const m of history) messageSchema.parse(m);
    expect(history.map((m) => m.body)).toEqual(['hello from Alice', 'hi Alice', 'hi from the gateway']);
    expect(await s.session.listMessages(ALICE, 1)).toEqual([expect.objectContaining({ id: sent.id })]);

    const contacts = await s.session.listContacts();
    for (const c of contacts) contactSchema.parse(c);
    expect(contacts).toContainEqual({
      id: ALICE,
      name: 'Alice Example',
      pushName: 'alice',
      number: '15550100001',
      isMyContact: true,
      isGroup: false,
    });

    // A re-sync makes the library fire `authenticated` and `ready` again: nothing new to report.
    const reported = s.listener.statuses.length;
    await standinPage.resync();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(s.listener.statuses.slice(reported)).toEqual([]);

    const status = await standinPage.status();
    expect(status.unknownRequires).toEqual([]);
    expect(status.errors).toEqual([]);
  }, 60_000);

  it('stop() keeps the login: the next start connects without a QR (even past a stale SingletonLock)', async () => {
    const s = setup();
    await s.session.start();
    await scanAndConnect(s);
    await s.session.stop();
    expect(chromiumOn(s.profileDir)).toEqual([]);
    expect(existsSync(s.profileDir)).toBe(true);
    await expect(s.session.sendText(ALICE, 'x')).rejects.toMatchObject({ code: 'SESSION_NOT_CONNECTED' });

    // What a crashed Chromium leaves behind.
    symlinkSync('some-other-host-99999', path.join(s.profileDir, 'SingletonLock'));
    writeFileSync(path.join(s.profileDir, 'SingletonCookie'), '');

    const before = s.listener.statuses.length;
    await s.session.start();
    const connected = await s.listener.waitForStatus((u) => u.status === 'connected', 20_000, before);
    expect(connected.me).toEqual({ id: ME, pushName: 'Tester' });
    expect(s.listener.statuses.slice(before).map((u) => u.status)).toEqual(['authenticated', 'connected']);
  }, 60_000);

  it('logout from the phone: disconnected LOGGED_OUT, then a fresh QR with loggedOut, and a new scan works', async () => {
    const s = setup();
    await s.session.start();
    const standinPage = await scanAndConnect(s);
    const before = s.listener.statuses.length;
    await standinPage.logoutFromPhone();
    const disconnected = await s.listener.waitForStatus((u) => u.status === 'disconnected', 15_000, before);
    expect(disconnected.lastError?.code).toBe('LOGGED_OUT');
    const qr = await s.listener.waitForStatus((u) => u.status === 'qr', 20_000, before);
    expect(qr.loggedOut).toBe(true);
    await scanAndConnectAfter(s, s.listener.statuses.length - 1);
  }, 60_000);

  it('conflict: disconnected CONFLICT, then connected again by itself', async () => {
    const s = setup();
    await s.session.start();
    const standinPage = await scanAndConnect(s);
    const before = s.listener.statuses.length;
    await standinPage.conflict();
    const disconnected = await s.listener.waitForStatus((u) => u.status === 'disconnected', 15_000, before);
    expect(disconnected.lastError?.code).toBe('CONFLICT');
    await s.listener.waitForStatus((u) => u.status === 'connected', 20_000, before);
    expect(s.listener.statuses.slice(before).some((u) => u.status === 'qr')).toBe(false);
  }, 60_000);

  it('a killed Chromium (SIGKILL) is noticed and the session recovers by itself, without a QR', async () => {
    const s = setup();
    await s.session.start();
    await scanAndConnect(s);
    const pid = s.session.browserPid();
    expect(pid).toBeGreaterThan(0);
    const before = s.listener.statuses.length;
    process.kill(pid as number, 'SIGKILL');
    const disconnected = await s.listener.waitForStatus((u) => u.status === 'disconnected', 10_000, before);
    expect(disconnected.lastError?.code).toBe('BROWSER_CRASHED');
    const connected = await s.listener.waitForStatus((u) => u.status === 'connected', 25_000, before);
    expect(connected.me?.id).toBe(ME);
    expect(s.listener.statuses.slice(before).some((u) => u.status === 'qr')).toBe(false);
    expect(s.session.browserPid()).not.toBe(pid);
    // It works again.
    const sent = await s.session.sendText(ALICE, 'after the crash');
    expect(sent.ack).toBe('sent');
  }, 60_000);

  it('logout(): logs out, leaves no Chromium and removes the data folder', async () => {
    const s = setup();
    await s.session.start();
    await scanAndConnect(s);
    expect(chromiumOn(s.profileDir).length).toBeGreaterThan(0);
    await s.session.logout();
    expect(chromiumOn(s.profileDir)).toEqual([]);
    expect(existsSync(s.profileDir)).toBe(false);
  }, 60_000);

  it('WhatsApp Web unreachable (offline, no web cache): failed with WHATSAPP_UNREACHABLE, no browser left', async () => {
    const s = setup({ webCacheDir: undefined, webVersion: undefined, initTimeoutMs: 15_000 });
    const startedAt = Date.now();
    await s.session.start();
    const failed = await s.listener.waitForStatus((u) => u.status === 'failed', 20_000);
    expect(Date.now() - startedAt).toBeLessThan(16_000);
    expect(failed.lastError?.code).toBe('WHATSAPP_UNREACHABLE');
    expect(failed.lastError?.message).toMatch(/net::ERR_|did not show a QR/);
    expect(chromiumOn(s.profileDir)).toEqual([]);
  }, 30_000);

  it('a page that never becomes WhatsApp Web: failed with WHATSAPP_UNREACHABLE at initTimeoutMs, no browser left', async () => {
    const blankCache = mkdtempSync(path.join(tmpdir(), 'webjs-blank-'));
    mkdirSync(blankCache, { recursive: true });
    writeFileSync(path.join(blankCache, 'blank.html'), '<!doctype html><title>nothing</title>');
    const s = setup({ webCacheDir: blankCache, webVersion: 'blank', initTimeoutMs: 4_000 });
    const startedAt = Date.now();
    await s.session.start();
    const failed = await s.listener.waitForStatus((u) => u.status === 'failed', 10_000);
    const tookMs = Date.now() - startedAt;
    expect(tookMs).toBeGreaterThanOrEqual(3_500);
    expect(tookMs).toBeLessThan(8_000);
    expect(failed.lastError?.code).toBe('WHATSAPP_UNREACHABLE');
    expect(chromiumOn(s.profileDir)).toEqual([]);
    rmSync(blankCache, { recursive: true, force: true });
  }, 30_000);

  it('stop() at any moment of a launch leaves no browser behind', async () => {
    // 0 ms: before Chromium exists; then while it starts, loads the page, injects.
    for (const afterMs of [0, 100, 250, 400]) {
      const s = setup({}, `early-${afterMs}`);
      await s.session.start();
      await new Promise((resolve) => setTimeout(resolve, afterMs));
      await s.session.stop();
      expect(chromiumOn(s.profileDir)).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(chromiumOn(s.profileDir)).toEqual([]);
      expect(s.listener.statuses.filter((u) => u.status === 'failed' || u.status === 'disconnected')).toEqual([]);
    }
  }, 30_000);

  it('gives up with failed after maxRestarts restarts that cannot start', async () => {
    const ownCache = mkdtempSync(path.join(tmpdir(), 'webjs-cache-'));
    const s = setup({ ...writeStandinWebCache(ownCache), maxRestarts: 2 });
    await s.session.start();
    await scanAndConnect(s);
    // From now on WhatsApp Web cannot be loaded: every restart fails.
    rmSync(ownCache, { recursive: true, force: true });
    const before = s.listener.statuses.length;
    process.kill(s.session.browserPid() as number, 'SIGKILL');
    const failed = await s.listener.waitForStatus((u) => u.status === 'failed', 20_000, before);
    expect(failed.lastError?.code).toBe('WEB_VERSION_NOT_FOUND');
    expect(failed.loggedOut).toBe(false);
    expect(s.listener.statuses.slice(before).map((u) => u.status)).toEqual(['disconnected', 'failed']);
    expect(chromiumOn(s.profileDir)).toEqual([]);
  }, 40_000);

  it('CHROME_PATH pointing nowhere: failed with CHROME_NOT_FOUND naming CHROME_PATH', async () => {
    const s = setup({ chromePath: '/nonexistent/chromium' });
    await s.session.start();
    const failed = await s.listener.waitForStatus((u) => u.status === 'failed', 5_000);
    expect(failed.lastError).toMatchObject({ code: 'CHROME_NOT_FOUND', message: expect.stringContaining('CHROME_PATH') });
  }, 10_000);
});

async function scanAndConnectAfter(s: Setup, from: number): Promise<void> {
  const standinPage = control(s);
  await standinPage.scan({ me: ME, pushName: 'Tester again' });
  const connected = await s.listener.waitForStatus((u) => u.status === 'connected', 15_000, from);
  expect(connected.me).toEqual({ id: ME, pushName: 'Tester again' });
}
