/**
 * The webjs engine against the REAL whatsapp-web.js 1.34.7, Puppeteer and Debian's Chromium, with a stand-in for
 * WhatsApp Web (test/fixtures/whatsapp-web-standin) served through the library's local web cache.
 * One browser at a time: the tests of this file run in sequence. The tests that depend on how WhatsApp Web shapes
 * its data run on both build shapes (before and after the July 2026 message-key rename); crash, teardown and launch
 * tests do not depend on it and run once.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { chatSchema, contactSchema, messageSchema } from '../../contract/api.js';
import { createWebjsEngine, type WebjsEngineOptions, type WebjsSession } from '../../session-host/engines/webjs/webjs-engine.js';
import { BUILD_SHAPES, StandinControl, writeStandinWebCache, type BuildShape } from '../fixtures/whatsapp-web-standin/standin.js';
import { chromiumOn, RecordingListener, testLogger, waitFor } from './helpers.js';

const cacheDir = mkdtempSync(path.join(tmpdir(), 'webjs-cache-'));
const standin = writeStandinWebCache(cacheDir);
const standinOf: Record<BuildShape, { webCacheDir: string; webVersion: string }> = {
  'pre-2026-07': standin,
  // Another minified name than the `$1` seen so far: the engine must not depend on it.
  '2026-07': writeStandinWebCache(cacheDir, { buildShape: '2026-07', msgKeyField: '$7' }),
};
const ME = '15550009999@c.us';
const ME_LID = '100000000000999@lid';
const ALICE = '15550100001@c.us';
const ALICE_LID = '201000000000001@lid';
const CAROL_LID = '201000000000003@lid';

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
  await standinPage.scan({ me: ME, pushName: 'Tester', lid: ME_LID });
  await s.listener.waitForStatus((u) => u.status === 'connected');
  return standinPage;
}

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

afterAll(() => {
  rmSync(cacheDir, { recursive: true, force: true });
});

/** `<fromMe>_<chat>_<id>`: WhatsApp's serialized message id. */
const serializedIdPattern = (fromMe: boolean, chatId: string) => new RegExp(`^${fromMe}_${chatId.replace(/\./g, '\\.')}_[0-9A-Z]+$`);

describe.each(BUILD_SHAPES)('webjs engine on WhatsApp Web %s (real whatsapp-web.js + Chromium, stand-in)', (shape) => {
  it('goes qr → authenticated → connected, receives once, sends with acks, lists chats, history and contacts', async () => {
    const s = setup(standinOf[shape]);
    await s.session.start();
    const qr = await s.listener.waitForStatus((u) => u.status === 'qr');
    expect(qr.qr).toMatch(/^2@[0-9A-F]+,.+,.+,.+,Chrome$/);

    // The QR rotates: each rotation is reported.
    const standinPage = control(s);
    await standinPage.rotateQr();
    await waitFor('a second QR', () => s.listener.statuses.filter((u) => u.status === 'qr').length >= 2);

    await standinPage.scan({ me: ME, pushName: 'Tester', lid: ME_LID });
    const connected = await s.listener.waitForStatus((u) => u.status === 'connected');
    expect(connected.me).toEqual({ id: ME, pushName: 'Tester', lid: ME_LID });
    expect(s.listener.statuses.map((u) => u.status)).toEqual(['qr', 'qr', 'authenticated', 'connected']);
    expect((await standinPage.status()).buildShape).toBe(shape);

    // Incoming: once each, even when WhatsApp Web announces one twice; each with its own serialized id.
    await standinPage.incoming({ from: '15550100002@c.us', body: 'hello gateway', pushName: 'bob', duplicate: true });
    const incoming = await waitFor('the incoming message', () => s.listener.messages[0]);
    expect(messageSchema.parse(incoming)).toMatchObject({
      chatId: '15550100002@c.us',
      from: '15550100002@c.us',
      to: ME,
      fromMe: false,
      type: 'chat',
      body: 'hello gateway',
      sender: { id: '15550100002@c.us', phone: '15550100002' },
    });
    expect(incoming.id).toMatch(serializedIdPattern(false, '15550100002@c.us'));
    await standinPage.incoming({ from: '15550100002@c.us', body: 'and again', pushName: 'bob', duplicate: true });
    await standinPage.incoming({ from: CAROL_LID, body: 'carol here', pushName: 'carol' });
    await waitFor('three incoming messages', () => s.listener.messages.length >= 3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(s.listener.messages.map((m) => m.body)).toEqual(['hello gateway', 'and again', 'carol here']);
    const ids = s.listener.messages.map((m) => m.id);
    expect(new Set(ids).size).toBe(3);
    expect(s.listener.messages[2]).toMatchObject({ from: CAROL_LID, chatId: CAROL_LID, sender: { id: CAROL_LID, lid: CAROL_LID, phone: null } });
    expect(ids[2]).toMatch(serializedIdPattern(false, CAROL_LID));

    // Send: the answer says `sent`; delivered and read follow as acks.
    const sent = await s.session.send({ chatId: ALICE, content: { kind: 'text', text: 'hi from the gateway' } });
    expect(messageSchema.parse(sent)).toMatchObject({
      chatId: ALICE,
      to: ALICE,
      from: ME,
      fromMe: true,
      body: 'hi from the gateway',
      ack: 'sent',
      sender: { id: ME, lid: ME_LID, phone: '15550009999' },
    });
    expect(sent.id).toMatch(serializedIdPattern(true, ALICE));
    await waitFor('delivered and read acks', () => s.listener.acks.length >= 2);
    expect(s.listener.acks).toEqual([
      { messageId: sent.id, chatId: ALICE, ack: 'delivered' },
      { messageId: sent.id, chatId: ALICE, ack: 'read' },
    ]);
    expect(s.listener.messages).toHaveLength(3); // own sends are not incoming messages

    const chats = await s.session.listChats();
    for (const chat of chats) chatSchema.parse(chat);
    expect(chats[0]).toMatchObject({ id: ALICE, isGroup: false, lastMessage: { id: sent.id }, lid: ALICE_LID, phone: '15550100001' });
    expect(chats.map((c) => c.timestamp)).toEqual([...chats.map((c) => c.timestamp)].sort().reverse());
    expect(chats.find((c) => c.id.endsWith('@g.us'))).toMatchObject({ isGroup: true, name: 'Stand-in Group', lid: null, phone: null });
    expect(chats.find((c) => c.id === '15550100002@c.us')).toMatchObject({ unreadCount: 2, lastMessage: { id: ids[1] } });
    expect(chats.find((c) => c.id === CAROL_LID)).toMatchObject({ lid: CAROL_LID, phone: null, lastMessage: { id: ids[2] } });

    const history = await s.session.listMessages({ chatId: ALICE, limit: 50 });
    for (const m of history) messageSchema.parse(m);
    expect(history.map((m) => m.body)).toEqual(['hello from Alice', 'hi Alice', 'hi from the gateway']);
    expect(await s.session.listMessages({ chatId: ALICE, limit: 1 })).toEqual([expect.objectContaining({ id: sent.id })]);
    // The same ids as the events had, and the history of a chat by LID.
    expect((await s.session.listMessages({ chatId: '15550100002@c.us', limit: 5 })).map((m) => m.id)).toEqual([ids[0], ids[1]]);
    expect(await s.session.listMessages({ chatId: CAROL_LID, limit: 5 })).toEqual([expect.objectContaining({ id: ids[2], sender: { id: CAROL_LID, lid: CAROL_LID, phone: null } })]);

    const contacts = await s.session.listContacts();
    for (const c of contacts) contactSchema.parse(c);
    expect(contacts).toContainEqual({
      id: ALICE,
      name: 'Alice Example',
      pushName: 'alice',
      number: '15550100001',
      isMyContact: true,
      isGroup: false,
      lid: ALICE_LID,
      phone: '15550100001',
    });
    expect(contacts.find((c) => c.id === CAROL_LID)).toMatchObject({ lid: CAROL_LID, phone: null, number: '' });
    // Looked up by either identity: both are known for Alice.
    expect(await s.session.getContact({ contactId: ALICE_LID })).toMatchObject({ id: ALICE_LID, lid: ALICE_LID, phone: '15550100001' });
    expect(await s.session.getContact({ contactId: ALICE })).toMatchObject({ id: ALICE, lid: ALICE_LID, phone: '15550100001', name: 'Alice Example' });
    // A message from a LID whose phone the session has learnt carries both.
    await standinPage.incoming({ from: ALICE_LID, body: 'alice by lid' });
    const byLid = await s.listener.waitForMessage((m) => m.body === 'alice by lid');
    expect(byLid.sender).toEqual({ id: ALICE_LID, lid: ALICE_LID, phone: '15550100001' });

    // A number with no chat yet is resolved first, then the send goes out.
    const fresh = await s.session.send({ chatId: '4915112345678@c.us', content: { kind: 'text', text: 'first contact' } });
    expect(fresh).toMatchObject({ chatId: '4915112345678@c.us', ack: 'sent' });
    await expect(s.session.send({ chatId: '15559990042@c.us', content: { kind: 'text', text: 'nobody' } })).rejects.toMatchObject({ code: 'RECIPIENT_NOT_ON_WHATSAPP' });
    // What went out, as the stand-in's server side saw it (it records a send a moment after it is taken).
    await waitFor('both sends on the wire', async () => (await standinPage.status()).sent.length >= 2);
    expect((await standinPage.status()).sent.map((m) => m.to)).toEqual([ALICE, '4915112345678@c.us']);

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
    const s = setup(standinOf[shape]);
    await s.session.start();
    await scanAndConnect(s);
    await s.session.stop();
    expect(chromiumOn(s.profileDir)).toEqual([]);
    expect(existsSync(s.profileDir)).toBe(true);
    await expect(s.session.send({ chatId: ALICE, content: { kind: 'text', text: 'x' } })).rejects.toMatchObject({ code: 'SESSION_NOT_CONNECTED' });

    // What a crashed Chromium leaves behind.
    symlinkSync('some-other-host-99999', path.join(s.profileDir, 'SingletonLock'));
    writeFileSync(path.join(s.profileDir, 'SingletonCookie'), '');

    const before = s.listener.statuses.length;
    await s.session.start();
    const connected = await s.listener.waitForStatus((u) => u.status === 'connected', 20_000, before);
    expect(connected.me).toEqual({ id: ME, pushName: 'Tester', lid: ME_LID });
    expect(s.listener.statuses.slice(before).map((u) => u.status)).toEqual(['authenticated', 'connected']);
    // Sent and listed after the restore too.
    const sent = await s.session.send({ chatId: ALICE, content: { kind: 'text', text: 'after a restart' } });
    expect(sent.id).toMatch(serializedIdPattern(true, ALICE));
    expect((await s.session.listChats())[0]).toMatchObject({ id: ALICE, lastMessage: { id: sent.id } });
  }, 60_000);

  it('pairing code: asked while the QR shows, typed on the phone, then authenticated → connected as that number', async () => {
    const s = setup(standinOf[shape]);
    await s.session.start();
    await s.listener.waitForStatus((u) => u.status === 'qr');
    const code = await s.session.requestPairingCode({ phone: '15550008888' });
    expect(code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    const standinPage = control(s);
    expect((await standinPage.status()).pairingFor).toBe('15550008888');
    await expect(standinPage.enterPairingCode('ZZZZ-ZZZZ')).rejects.toThrow(/PAIRING_CODE_MISMATCH/);
    await standinPage.enterPairingCode(code, { pushName: 'Paired' });
    const connected = await s.listener.waitForStatus((u) => u.status === 'connected');
    expect(connected.me).toMatchObject({ id: '15550008888@c.us', pushName: 'Paired' });
    expect(s.listener.statuses.map((u) => u.status).slice(-2)).toEqual(['authenticated', 'connected']);
    await expect(s.session.requestPairingCode({ phone: '15550008888' })).rejects.toMatchObject({ code: 'QR_NOT_AVAILABLE', details: { status: 'connected' } });
  }, 60_000);
});

describe('webjs engine: what the id shim fixes on a July-2026 build', () => {
  it('without the page-side shim the stand-in breaks as the real page does: chats reject, a send has an unknown outcome', async () => {
    const s = setup({ ...standinOf['2026-07'], pageIdShim: false });
    await s.session.start();
    await scanAndConnect(s);
    // whatsapp-web.js reads `chat.lastReceivedKey._serialized`: undefined, and IndexedDB refuses it.
    await expect(s.session.listChats()).rejects.toThrow(/DataError|No key or key range/);
    // The message leaves, but the library cannot find it again: never a validation error, never "not sent".
    await expect(s.session.send({ chatId: ALICE, content: { kind: 'text', text: 'sent but lost' } })).rejects.toMatchObject({ code: 'SEND_OUTCOME_UNKNOWN' });
    await waitFor('the send on the wire', async () => (await control(s).status()).sent.length >= 1);
    expect((await control(s).status()).sent.map((m) => m.body)).toEqual(['sent but lost']);
    // A reaction's keys cross exposeFunction as plain copies with only the minified field (whatsapp-web.js #201846):
    // the engine reads them by value, so the event still names the message.
    await control(s).react({ from: ALICE, messageId: `true_${ALICE}_SEED0002`, emoji: '👍' });
    expect(await s.listener.waitForReaction((r) => r.emoji === '👍')).toMatchObject({ messageId: `true_${ALICE}_SEED0002`, chatId: ALICE });
  }, 60_000);
});

describe('webjs engine (real whatsapp-web.js + Chromium, stand-in WhatsApp Web)', () => {
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
    const sent = await s.session.send({ chatId: ALICE, content: { kind: 'text', text: 'after the crash' } });
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
  await standinPage.scan({ me: ME, pushName: 'Tester again', lid: ME_LID });
  const connected = await s.listener.waitForStatus((u) => u.status === 'connected', 15_000, from);
  expect(connected.me).toEqual({ id: ME, pushName: 'Tester again', lid: ME_LID });
}
