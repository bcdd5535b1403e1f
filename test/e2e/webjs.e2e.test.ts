/**
 * The real engine behind the REST and WebSocket APIs: a session-host process runs whatsapp-web.js with Debian's
 * Chromium against the WhatsApp Web stand-in (which scans its own QR here, as nobody drives it from this process,
 * and whose people answer every message: the incoming messages). The stand-in models WhatsApp Web as users meet it
 * now: a build after the July 2026 message-key rename (2026-07 shape), with LIDs and numbers not on WhatsApp.
 * Then the same code on a host with no way to WhatsApp Web: `failed` with WHATSAPP_UNREACHABLE, no browser left.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chat, Contact, Message, Session } from '../../contract/api.js';
import { writeStandinWebCache } from '../fixtures/whatsapp-web-standin/standin.js';
import { temporaryDirectory } from '../../scripts/support/processes.js';
import { eventually, sessionBecomes } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { duplicateKeys } from '../support/log-lines.js';
import { connectWebSocket, type ReceivedFrame, type TestWebSocket } from '../support/ws-client.js';
import { chromiumOn } from '../webjs/helpers.js';

const me = '15550300001@c.us';
const meLid = '100000000300001@lid';
/** Known to the stand-in by LID only. */
const carolLid = '201000000000003@lid';
let stack: TestStack;
let socket: TestWebSocket;
const webCache = temporaryDirectory('wa-webcache');
let standinEnv: Record<string, string>;

beforeAll(async () => {
  const { webCacheDir, webVersion } = writeStandinWebCache(webCache.path, {
    buildShape: '2026-07',
    autoScanAfterMs: 1_500,
    me,
    lid: meLid,
    pushName: 'Real One',
    echoReplies: true,
  });
  expect(webVersion).toMatch(/^2\.3000\.104\d+/);
  standinEnv = { WEBJS_WEB_CACHE_DIR: webCacheDir, WEBJS_WEB_VERSION: webVersion, WEBJS_INIT_TIMEOUT_MS: '20000' };
  stack = await startTestStack({ engine: 'webjs', hosts: 0 });
  await stack.startHost('webjs-host', standinEnv);
  socket = await connectWebSocket(`${stack.offline.websocketUrl}/?apiKey=${stack.apiKey}`);
});

afterAll(async () => {
  await socket?.close();
  await stack?.stop();
  webCache.remove();
});

const profileOf = (sessionId: string) => path.join(stack.dataDir, `session-${sessionId}`);
const statusesOf = (sessionId: string, from = 0) =>
  socket.frames
    .slice(from)
    .filter((frame: ReceivedFrame) => frame.sessionId === sessionId && frame.event === 'connection_update')
    .map((frame) => (frame.data as { status: string }).status);

function statusBecomes(sessionId: string, status: Session['status'], timeoutMs = 30_000): Promise<Session> {
  return sessionBecomes(stack.api, sessionId, status, timeoutMs);
}

describe('webjs engine end to end (real whatsapp-web.js and Chromium, stand-in WhatsApp Web)', () => {
  it('creates a session that shows a QR, is scanned, and connects', async () => {
    const created = await stack.api.request<{ session: Session }>('POST', '/api/sessions', { body: { sessionId: 'real-1' } });
    expect(created.status).toBe(201);
    expect(created.body.session.engine).toBe('webjs');
    const qrFrame = await socket.waitFor((frame) => frame.sessionId === 'real-1' && (frame.data as { status?: string }).status === 'qr', 30_000);
    expect((qrFrame.data as { qr: string }).qr.length).toBeGreaterThan(10);
    const connected = await statusBecomes('real-1', 'connected');
    expect(connected.me).toEqual({ id: me, pushName: 'Real One', lid: meLid });
    expect(statusesOf('real-1')).toEqual(['starting', 'qr', 'authenticated', 'connected']);
    expect(chromiumOn(profileOf('real-1')).length).toBeGreaterThan(0);
  });

  it('sends a message whose acks arrive as events, and reads chats, history and contacts', async () => {
    const sent = await stack.api.request<{ message: Message }>('POST', '/api/messages/real-1/send', {
      body: { chatId: '+1 555 030 0009', text: 'hello from the real engine' },
    });
    expect(sent.status).toBe(201);
    expect(sent.body.message).toMatchObject({ chatId: '15550300009@c.us', fromMe: true, body: 'hello from the real engine', ack: 'sent' });
    const read = await socket.waitFor(
      (frame) => frame.event === 'message_ack' && (frame.data as { ack: string; messageId: string }).ack === 'read',
      15_000,
    );
    expect((read.data as { messageId: string }).messageId).toBe(sent.body.message.id);
    expect(sent.body.message.id).toMatch(/^true_15550300009@c\.us_[0-9A-Z]+$/);
    expect(sent.body.message.sender).toEqual({ id: me, lid: meLid, phone: '15550300001' });

    // The answer comes in as a `message` event, once, with its own id.
    const echo = await socket.waitFor(
      (frame) => frame.event === 'message' && (frame.data as Message).body === 'echo: hello from the real engine',
      15_000,
    );
    const incoming = echo.data as Message;
    expect(incoming).toMatchObject({ chatId: '15550300009@c.us', fromMe: false, sender: { id: '15550300009@c.us', phone: '15550300009' } });
    expect(incoming.id).toMatch(/^false_15550300009@c\.us_[0-9A-Z]+$/);
    expect(incoming.id).not.toBe(sent.body.message.id);

    const chats = await stack.api.request<{ chats: Chat[] }>('GET', '/api/messages/real-1/chats');
    expect(chats.status).toBe(200);
    expect(chats.body.chats[0]).toMatchObject({ id: '15550300009@c.us', lastMessage: { id: incoming.id, body: 'echo: hello from the real engine' }, phone: '15550300009' });
    const history = await stack.api.request<{ messages: Message[] }>('GET', '/api/messages/real-1/chat/15550300009?limit=5');
    expect(history.body.messages.map((m) => m.body)).toEqual(['hello from the real engine', 'echo: hello from the real engine']);
    expect(history.body.messages.map((m) => m.id)).toEqual([sent.body.message.id, incoming.id]);
    const contacts = await stack.api.request<{ contacts: unknown[] }>('GET', '/api/messages/real-1/contacts');
    expect(contacts.status).toBe(200);
    // Each incoming message once: a second answer is not a repeat of the first.
    const echoes = () => socket.frames.filter((frame) => frame.event === 'message' && (frame.data as Message).body.startsWith('echo: '));
    expect(echoes()).toHaveLength(1);
  });

  it('talks with a person known by LID only, looks people up by LID and phone, and refuses a number not on WhatsApp', async () => {
    const sent = await stack.api.request<{ message: Message }>('POST', '/api/messages/real-1/send', {
      body: { chatId: carolLid, text: 'hello carol' },
    });
    expect(sent.status).toBe(201);
    expect(sent.body.message).toMatchObject({ chatId: carolLid, fromMe: true });
    const echo = await socket.waitFor(
      (frame) => frame.event === 'message' && (frame.data as Message).body === 'echo: hello carol',
      15_000,
    );
    expect(echo.data).toMatchObject({ from: carolLid, chatId: carolLid, sender: { id: carolLid, lid: carolLid, phone: null } });

    const byLid = await stack.api.request<{ contact: Contact }>('GET', `/api/messages/real-1/contacts/${encodeURIComponent(carolLid)}`);
    expect(byLid.status).toBe(200);
    expect(byLid.body.contact).toMatchObject({ id: carolLid, lid: carolLid, phone: null });
    const byPhone = await stack.api.request<{ contact: Contact }>('GET', '/api/messages/real-1/contacts/15550300009');
    expect(byPhone.status).toBe(200);
    expect(byPhone.body.contact).toMatchObject({ id: '15550300009@c.us', phone: '15550300009' });
    const unknown = await stack.api.request('GET', '/api/messages/real-1/contacts/15559990007');
    expect(unknown.status).toBe(404);

    const refused = await stack.api.request<{ error: { code: string } }>('POST', '/api/messages/real-1/send', {
      body: { chatId: '+1 555 999 0007', text: 'nobody' },
    });
    expect(refused.status).toBe(422);
    expect(JSON.stringify(refused.body)).toContain('RECIPIENT_NOT_ON_WHATSAPP');
  });

  it('comes back connected without a QR after the session host restarts, and leaves no browser when stopped', async () => {
    const host = stack.hosts.splice(0, 1)[0]!;
    expect((await host.stop(30_000)).code).toBe(0);
    expect(chromiumOn(profileOf('real-1'))).toEqual([]);
    const from = socket.frames.length;
    await stack.startHost('webjs-host', standinEnv);
    await statusBecomes('real-1', 'connected');
    await eventually('the connected event', async () => (statusesOf('real-1', from).includes('connected') ? true : undefined));
    expect(statusesOf('real-1', from)).not.toContain('qr');
  });

  it('deletes the session: its data folder and its browser are gone', async () => {
    const deleted = await stack.api.request<{ session: Session }>('DELETE', '/api/sessions/real-1');
    expect(deleted.status).toBe(200);
    expect(deleted.body.session.status).toBe('connected');
    await eventually('no Chromium on the profile', async () => (chromiumOn(profileOf('real-1')).length === 0 ? true : undefined), 10_000);
    const { existsSync } = await import('node:fs');
    expect(existsSync(profileOf('real-1'))).toBe(false);
  });

  it('on a host that cannot reach WhatsApp Web: failed with WHATSAPP_UNREACHABLE, no browser left', async () => {
    const host = stack.hosts.splice(0, 1)[0]!;
    await host.stop(30_000);
    await stack.startHost('offline-host', { WEBJS_INIT_TIMEOUT_MS: '10000' });
    const created = await stack.api.request('POST', '/api/sessions', { body: { sessionId: 'unreachable' } });
    expect(created.status).toBe(201);
    const failed = await statusBecomes('unreachable', 'failed', 20_000);
    expect(failed.lastError?.code).toBe('WHATSAPP_UNREACHABLE');
    expect(chromiumOn(profileOf('unreachable'))).toEqual([]);
  });

  it('logs each key once per line (the engine binds no key the host logger has)', () => {
    const lines = (stack.hosts[0]?.output() ?? '').split('\n').filter((line) => line.startsWith('{'));
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) expect(duplicateKeys(line), line).toEqual([]);
  });
});
