/**
 * The real engine behind the REST and WebSocket APIs: a session-host process runs whatsapp-web.js with Debian's
 * Chromium against the WhatsApp Web stand-in (which scans its own QR here, as nobody drives it from this process).
 * Then the same code on a host with no way to WhatsApp Web: `failed` with WHATSAPP_UNREACHABLE, no browser left.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chat, Message, Session } from '../../contract/api.js';
import { writeStandinWebCache } from '../fixtures/whatsapp-web-standin/standin.js';
import { temporaryDirectory } from '../../scripts/support/processes.js';
import { eventually, sessionBecomes } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { connectWebSocket, type ReceivedFrame, type TestWebSocket } from '../support/ws-client.js';
import { chromiumOn } from '../webjs/helpers.js';

const me = '15550300001@c.us';
let stack: TestStack;
let socket: TestWebSocket;
const webCache = temporaryDirectory('wa-webcache');
let standinEnv: Record<string, string>;

beforeAll(async () => {
  const { webCacheDir, webVersion } = writeStandinWebCache(webCache.path, { autoScanAfterMs: 1_500, me, pushName: 'Real One' });
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
    expect(connected.me).toEqual({ id: me, pushName: 'Real One' });
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

    const chats = await stack.api.request<{ chats: Chat[] }>('GET', '/api/messages/real-1/chats');
    expect(chats.status).toBe(200);
    expect(chats.body.chats[0]).toMatchObject({ id: '15550300009@c.us', lastMessage: { body: 'hello from the real engine' } });
    const history = await stack.api.request<{ messages: Message[] }>('GET', '/api/messages/real-1/chat/15550300009?limit=5');
    expect(history.body.messages.at(-1)?.body).toBe('hello from the real engine');
    const contacts = await stack.api.request<{ contacts: unknown[] }>('GET', '/api/messages/real-1/contacts');
    expect(contacts.status).toBe(200);
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
});
