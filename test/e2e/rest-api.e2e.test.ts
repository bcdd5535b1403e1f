/**
 * The whole path on the simulator engine: HTTP → serverless offline → Lambda handler → Redis → session host →
 * simulator, and back. Two simulated sessions log in by scan, message each other by phone number, and read chats,
 * history and contacts on both sides; then the contract's refusals, a host restart, and deletion.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chat, Contact, Message, Session } from '../../contract/api.js';
import { eventually, sessionBecomes } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.stop();
});

const alicePhone = '15550100001';
const bobPhone = '15550100002';
let bobId = '';
/** Alice's LID: WhatsApp shows her by it to people who did not have her number yet. */
let aliceLid = '';

function statusBecomes(id: string, status: Session['status']): Promise<Session> {
  return sessionBecomes(stack.api, id, status);
}

describe('REST API end to end on the simulator', () => {
  it('answers health without a key, and 401 for everything else without a valid one', async () => {
    const health = await stack.api.request('GET', '/api/health', { apiKey: null });
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    expect(health.headers.get('content-type')).toBe('application/json; charset=utf-8');

    for (const apiKey of [null, 'wrong-key', `${stack.apiKey}x`]) {
      for (const [method, route] of [
        ['GET', '/api/sessions'],
        ['POST', '/api/sessions'],
        ['GET', '/api/no-such-route'],
        ['DELETE', '/api/sessions/alice'],
      ] as const) {
        const response = await stack.api.request<{ error: { code: string } }>(method, route, { apiKey });
        expect(response.status, `${method} ${route} with ${String(apiKey)}`).toBe(401);
        expect(response.body.error.code).toBe('UNAUTHORIZED');
      }
    }
    const keyInQuery = await stack.api.request('GET', `/api/sessions?apiKey=${stack.apiKey}`, { apiKey: null });
    expect(keyInQuery.status).toBe(401);
  });

  it('creates two sessions that wait for a QR scan', async () => {
    const alice = await stack.api.request<{ session: Session }>('POST', '/api/sessions', { body: { sessionId: 'alice' } });
    expect(alice.status).toBe(201);
    expect(alice.headers.get('location')).toBe('/api/sessions/alice');
    expect(alice.body.session).toMatchObject({ id: 'alice', engine: 'simulator', me: null, lastError: null });
    expect(['starting', 'qr']).toContain(alice.body.session.status);

    const bob = await stack.api.request<{ session: Session }>('POST', '/api/sessions', { rawBody: '' });
    expect(bob.status).toBe(201);
    bobId = bob.body.session.id;
    expect(bobId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);

    const again = await stack.api.request<{ error: { code: string } }>('POST', '/api/sessions', { body: { sessionId: 'alice' } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('SESSION_EXISTS');

    await statusBecomes('alice', 'qr');
    await statusBecomes(bobId, 'qr');
    const list = await stack.api.request<{ sessions: Session[] }>('GET', '/api/sessions');
    expect(list.body.sessions.map((listed) => listed.id).sort()).toEqual(['alice', bobId].sort());
  });

  it('serves the QR as a string, a data URL and a PNG', async () => {
    const qr = await stack.api.request<{ qr: string; dataUrl: string }>('GET', '/api/sessions/alice/qr');
    expect(qr.status).toBe(200);
    expect(qr.body.qr.length).toBeGreaterThan(10);
    expect(qr.body.dataUrl).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/=]+$/);

    const png = await fetch(`${stack.offline.httpUrl}/api/sessions/alice/qr`, {
      headers: { 'x-api-key': stack.apiKey, accept: 'image/png' },
    });
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');
    const bytes = new Uint8Array(await png.arrayBuffer());
    expect([...bytes.slice(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });

  it('refuses message routes while a session is not connected', async () => {
    const send = await stack.api.request<{ error: { code: string; details: { status: string } } }>('POST', '/api/messages/alice/send', {
      body: { chatId: bobPhone, text: 'too early' },
    });
    expect(send.status).toBe(409);
    expect(send.body.error).toMatchObject({ code: 'SESSION_NOT_CONNECTED', details: { status: 'qr' } });
    const chats = await stack.api.request<{ error: { code: string } }>('GET', '/api/messages/alice/chats');
    expect(chats.status).toBe(409);
  });

  it('logs both in by scan; a number cannot be taken twice', async () => {
    const scanAlice = await stack.api.request<{ session: Session }>('POST', '/api/simulator/sessions/alice/scan', { body: { phone: alicePhone } });
    expect(scanAlice.status).toBe(202);
    const taken = await stack.api.request<{ error: { code: string } }>('POST', `/api/simulator/sessions/${bobId}/scan`, { body: { phone: alicePhone } });
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('PHONE_IN_USE');
    const scanBob = await stack.api.request('POST', `/api/simulator/sessions/${bobId}/scan`, { body: { phone: bobPhone } });
    expect(scanBob.status).toBe(202);

    const alice = await statusBecomes('alice', 'connected');
    expect(alice.me).toEqual({ id: `${alicePhone}@c.us`, pushName: 'Sim alice', lid: expect.stringMatching(/^\d{15}@lid$/) });
    aliceLid = alice.me?.lid ?? '';
    const bob = await statusBecomes(bobId, 'connected');
    expect(bob.me?.id).toBe(`${bobPhone}@c.us`);

    const qr = await stack.api.request<{ error: { code: string; details: { status: string } } }>('GET', '/api/sessions/alice/qr');
    expect(qr.status).toBe(409);
    expect(qr.body.error).toMatchObject({ code: 'QR_NOT_AVAILABLE', details: { status: 'connected' } });
    const rescan = await stack.api.request<{ error: { code: string } }>('POST', '/api/simulator/sessions/alice/scan', { body: {} });
    expect(rescan.status).toBe(409);
    expect(rescan.body.error.code).toBe('QR_NOT_AVAILABLE');
  });

  it('sends from one to the other by phone number, with acks moving to read', async () => {
    const sent = await stack.api.request<{ message: Message }>('POST', '/api/messages/alice/send', {
      body: { chatId: '+1 555-010-0002', text: 'hello bob' },
    });
    expect(sent.status).toBe(201);
    expect(sent.body.message).toMatchObject({
      chatId: `${bobPhone}@c.us`,
      from: `${alicePhone}@c.us`,
      to: `${bobPhone}@c.us`,
      fromMe: true,
      type: 'chat',
      body: 'hello bob',
      ack: 'sent',
    });
    expect(new Date(sent.body.message.timestamp).toISOString()).toBe(sent.body.message.timestamp);

    const bobChats = await eventually('bob to have the chat', async () => {
      const chats = await stack.api.request<{ chats: Chat[] }>('GET', `/api/messages/${bobId}/chats`);
      return chats.body.chats.length > 0 ? chats.body.chats : undefined;
    });
    // Bob did not have Alice's number: WhatsApp shows her by her LID (Part 2 of the contract).
    expect(bobChats[0]).toMatchObject({ id: aliceLid, isGroup: false, lid: aliceLid, phone: null, lastMessage: { body: 'hello bob', fromMe: false } });

    const history = await stack.api.request<{ messages: Message[] }>('GET', `/api/messages/${bobId}/chat/${encodeURIComponent(aliceLid)}?limit=10`);
    expect(history.status).toBe(200);
    expect(history.body.messages.map((message) => message.body)).toEqual(['hello bob']);
    expect(history.body.messages[0]?.sender).toEqual({ id: aliceLid, lid: aliceLid, phone: null });

    const contacts = await stack.api.request<{ contacts: Contact[] }>('GET', `/api/messages/${bobId}/contacts`);
    expect(contacts.body.contacts).toContainEqual(
      expect.objectContaining({ id: aliceLid, number: '', pushName: 'Sim alice', isGroup: false, lid: aliceLid, phone: null }),
    );

    await eventually('the ack on alice side to reach read', async () => {
      const own = await stack.api.request<{ messages: Message[] }>('GET', `/api/messages/alice/chat/${encodeURIComponent('+15550100002')}`);
      return own.body.messages[0]?.ack === 'read' ? true : undefined;
    });
  });

  it('keeps history in order and honours limit', async () => {
    for (const text of ['one', 'two', 'three']) {
      expect((await stack.api.request('POST', `/api/messages/${bobId}/send`, { body: { chatId: `${alicePhone}@c.us`, text } })).status).toBe(201);
    }
    const lastTwo = await stack.api.request<{ messages: Message[] }>('GET', `/api/messages/${bobId}/chat/${alicePhone}?limit=2`);
    expect(lastTwo.body.messages.map((message) => message.body)).toEqual(['two', 'three']);
    const aliceChats = await eventually('alice to receive three', async () => {
      const chats = await stack.api.request<{ chats: Chat[] }>('GET', '/api/messages/alice/chats');
      return chats.body.chats[0]?.lastMessage?.body === 'three' ? chats.body.chats : undefined;
    });
    expect(aliceChats).toHaveLength(1);
  });

  it('takes a message from outside the simulation', async () => {
    const injected = await stack.api.request<{ message: Message }>('POST', '/api/simulator/sessions/alice/incoming', {
      body: { from: '4915112345678', text: 'from outside' },
    });
    expect(injected.status).toBe(202);
    expect(injected.body.message).toMatchObject({ chatId: '4915112345678@c.us', fromMe: false, body: 'from outside' });
    const chats = await stack.api.request<{ chats: Chat[] }>('GET', '/api/messages/alice/chats');
    expect(chats.body.chats[0]?.id).toBe('4915112345678@c.us');
    expect(chats.body.chats[0]?.unreadCount).toBe(1);

    const toOutside = await stack.api.request<{ message: Message }>('POST', '/api/messages/alice/send', {
      body: { chatId: '4915112345678@c.us', text: 'reply' },
    });
    expect(toOutside.status).toBe(201);
    await eventually('a message to outside to reach delivered', async () => {
      const history = await stack.api.request<{ messages: Message[] }>('GET', '/api/messages/alice/chat/4915112345678');
      return history.body.messages.at(-1)?.ack === 'delivered' ? true : undefined;
    });
  });

  it('answers the contract’s refusals with the error envelope', async () => {
    const cases: Array<{ method: string; route: string; body?: unknown; rawBody?: string; headers?: Record<string, string>; status: number; code: string; field?: string }> = [
      { method: 'POST', route: '/api/messages/alice/send', body: { chatId: bobPhone, text: '' }, status: 400, code: 'VALIDATION_FAILED', field: 'text' },
      { method: 'POST', route: '/api/messages/alice/send', body: { chatId: bobPhone, text: 'x'.repeat(65_537) }, status: 400, code: 'VALIDATION_FAILED', field: 'text' },
      { method: 'POST', route: '/api/messages/alice/send', body: { chatId: 'not a number', text: 'hi' }, status: 400, code: 'VALIDATION_FAILED', field: 'chatId' },
      { method: 'POST', route: '/api/messages/alice/send', body: { chatId: bobPhone, text: 'hi', extra: 1 }, status: 400, code: 'VALIDATION_FAILED', field: 'extra' },
      { method: 'POST', route: '/api/messages/alice/send', body: [1, 2], status: 400, code: 'VALIDATION_FAILED' },
      { method: 'POST', route: '/api/messages/alice/send', rawBody: '{"chatId": ', headers: { 'content-type': 'application/json' }, status: 400, code: 'VALIDATION_FAILED' },
      { method: 'POST', route: '/api/messages/alice/send', rawBody: 'chatId=1&text=hi', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
      // The send route takes media inline: its limit is 6 MB (every other route's 256 KB).
      { method: 'POST', route: '/api/messages/alice/send', body: { chatId: bobPhone, text: 'y'.repeat(6_300_000) }, status: 413, code: 'PAYLOAD_TOO_LARGE' },
      { method: 'POST', route: '/api/sessions', body: { sessionId: 'y'.repeat(300_000) }, status: 413, code: 'PAYLOAD_TOO_LARGE' },
      { method: 'POST', route: '/api/sessions', body: { sessionId: '../etc' }, status: 400, code: 'VALIDATION_FAILED', field: 'sessionId' },
      { method: 'POST', route: '/api/sessions', body: { sessionId: 'a'.repeat(65) }, status: 400, code: 'VALIDATION_FAILED', field: 'sessionId' },
      { method: 'GET', route: '/api/sessions/..%2F..%2Fetc', status: 400, code: 'VALIDATION_FAILED', field: 'sessionId' },
      { method: 'GET', route: '/api/sessions/a.b', status: 400, code: 'VALIDATION_FAILED', field: 'sessionId' },
      { method: 'GET', route: '/api/messages/alice/chat/15550100002?limit=0', status: 400, code: 'VALIDATION_FAILED', field: 'query.limit' },
      { method: 'GET', route: '/api/messages/alice/chat/15550100002?limit=501', status: 400, code: 'VALIDATION_FAILED', field: 'query.limit' },
      { method: 'GET', route: '/api/messages/alice/chat/15550100002?limit=abc', status: 400, code: 'VALIDATION_FAILED', field: 'query.limit' },
      { method: 'GET', route: '/api/sessions/nobody', status: 404, code: 'SESSION_NOT_FOUND' },
      { method: 'GET', route: '/api/messages/nobody/chats', status: 404, code: 'SESSION_NOT_FOUND' },
      { method: 'GET', route: '/api/nothing-here', status: 404, code: 'NOT_FOUND' },
      { method: 'PUT', route: '/api/sessions/alice', status: 405, code: 'METHOD_NOT_ALLOWED' },
      { method: 'GET', route: '/api/messages/alice/send', status: 405, code: 'METHOD_NOT_ALLOWED' },
      { method: 'POST', route: '/api/sessions/alice/restart', body: { force: true }, status: 400, code: 'VALIDATION_FAILED', field: 'force' },
    ];
    for (const testCase of cases) {
      const { method, route, status, code, field } = testCase;
      const response = await stack.api.request<{ error: { code: string; message: string; details?: { fields?: Array<{ path: string }> } } }>(
        method,
        route,
        { body: testCase.body, rawBody: testCase.rawBody, headers: testCase.headers },
      );
      expect(response.status, `${method} ${route}: ${response.text.slice(0, 300)}`).toBe(status);
      expect(response.body.error.code, `${method} ${route}`).toBe(code);
      expect(typeof response.body.error.message).toBe('string');
      if (field !== undefined) expect(response.body.error.details?.fields?.map((entry) => entry.path)).toContain(field);
    }
  });

  it('brings connected sessions back connected, without a scan, after the session host restarts', async () => {
    const [host] = stack.hosts;
    const stopped = await host!.stop(15_000);
    expect(stopped.code).toBe(0);
    stack.hosts.splice(0, 1);
    await stack.startHost('host-1');
    await statusBecomes('alice', 'connected');
    const bob = await statusBecomes(bobId, 'connected');
    expect(bob.me?.id).toBe(`${bobPhone}@c.us`);
    const sent = await stack.api.request('POST', '/api/messages/alice/send', { body: { chatId: bobPhone, text: 'after restart' } });
    expect(sent.status).toBe(201);
  });

  it('restarts a session through starting, keeping its login', async () => {
    const restarted = await stack.api.request<{ session: Session }>('POST', '/api/sessions/alice/restart');
    expect(restarted.status).toBe(202);
    expect(restarted.body.session.id).toBe('alice');
    await statusBecomes('alice', 'connected');
  });

  it('deletes both sessions: answers them as they were, and removes their data', async () => {
    const dataBefore = readdirSync(stack.dataDir);
    expect(dataBefore).toContain('simulator-alice');
    for (const id of ['alice', bobId]) {
      const deleted = await stack.api.request<{ session: Session }>('DELETE', `/api/sessions/${id}`);
      expect(deleted.status).toBe(200);
      expect(deleted.body.session).toMatchObject({ id, status: 'connected' });
      expect((await stack.api.request('GET', `/api/sessions/${id}`)).status).toBe(404);
      expect(existsSync(path.join(stack.dataDir, `simulator-${id}`))).toBe(false);
    }
    const list = await stack.api.request<{ sessions: Session[] }>('GET', '/api/sessions');
    expect(list.body.sessions).toEqual([]);
    // The numbers are free again.
    const carol = await stack.api.request('POST', '/api/sessions', { body: { sessionId: 'carol' } });
    expect(carol.status).toBe(201);
    await statusBecomes('carol', 'qr');
    expect((await stack.api.request('POST', '/api/simulator/sessions/carol/scan', { body: { phone: alicePhone } })).status).toBe(202);
  });
});
