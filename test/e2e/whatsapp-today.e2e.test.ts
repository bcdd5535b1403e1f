/**
 * WhatsApp as it is today, end to end on the simulator (HTTP → serverless offline → Redis → session host): people
 * known by LID only, replies to a LID, contact lookups by LID and by phone, numbers not on WhatsApp, linking by
 * pairing code, and what a session says while no host runs it. Each test makes its own sessions.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chat, Contact, Message, Session } from '../../contract/api.js';
import { eventually, sessionBecomes } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { connectWebSocket, type ReceivedFrame, type TestWebSocket } from '../support/ws-client.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.stop();
});

function follow(sessionId: string): Promise<TestWebSocket> {
  return connectWebSocket(`${stack.offline.websocketUrl}/?apiKey=${stack.apiKey}&sessionId=${sessionId}`);
}

function messageBody(frame: ReceivedFrame): string | undefined {
  return frame.event === 'message' ? (frame.data as Message).body : undefined;
}

function connectionUpdate(frame: ReceivedFrame): { status: string; pairingCode?: string } | undefined {
  return frame.event === 'connection_update' ? (frame.data as { status: string; pairingCode?: string }) : undefined;
}

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
/** A fresh number in the fiction range 1-555-01xx-xxxx. */
const freshPhone = () => `155501${String(Math.floor(Math.random() * 100_000)).padStart(5, '0')}`;

async function createInQr(): Promise<string> {
  const sessionId = unique('s');
  const created = await stack.api.request('POST', '/api/sessions', { body: { sessionId } });
  expect(created.status).toBe(201);
  await sessionBecomes(stack.api, sessionId, 'qr');
  return sessionId;
}

async function connectedSession(): Promise<{ sessionId: string; session: Session; phone: string }> {
  const sessionId = await createInQr();
  const phone = freshPhone();
  const scanned = await stack.api.request('POST', `/api/simulator/sessions/${sessionId}/scan`, { body: { phone } });
  expect(scanned.status).toBe(202);
  const session = await sessionBecomes(stack.api, sessionId, 'connected');
  return { sessionId, session, phone };
}

async function history(sessionId: string, chatId: string): Promise<Message[]> {
  const response = await stack.api.request<{ messages: Message[] }>('GET', `/api/messages/${sessionId}/chat/${encodeURIComponent(chatId)}`);
  expect(response.status).toBe(200);
  return response.body.messages;
}

describe('WhatsApp as it is today, on the simulator', () => {
  it('gives every account a LID beside its number', async () => {
    const { session, phone } = await connectedSession();
    expect(session.me).toEqual({ id: `${phone}@c.us`, pushName: expect.any(String), lid: expect.stringMatching(/^\d{15}@lid$/) });
  });

  it('takes a message from a LID-only sender and answers it by its LID', async () => {
    const { sessionId, session } = await connectedSession();
    const lid = `${String(Date.now()).slice(-9)}123456@lid`;
    const incoming = await stack.api.request<{ message: Message }>('POST', `/api/simulator/sessions/${sessionId}/incoming`, {
      body: { from: lid, text: 'hello from a LID' },
    });
    expect(incoming.status).toBe(202);
    expect(incoming.body.message).toMatchObject({ from: lid, chatId: lid, fromMe: false, sender: { id: lid, lid, phone: null } });

    const reply = await stack.api.request<{ message: Message }>('POST', `/api/messages/${sessionId}/send`, {
      body: { chatId: lid, text: 'hello back' },
    });
    expect(reply.status).toBe(201);
    expect(reply.body.message).toMatchObject({
      chatId: lid,
      to: lid,
      fromMe: true,
      sender: { id: session.me?.id, lid: session.me?.lid, phone: session.me?.id.split('@')[0] },
    });
    const messages = await history(sessionId, lid);
    expect(messages.map((message) => message.body)).toEqual(['hello from a LID', 'hello back']);

    const chats = await stack.api.request<{ chats: Chat[] }>('GET', `/api/messages/${sessionId}/chats`);
    expect(chats.body.chats.find((chat) => chat.id === lid)).toMatchObject({ lid, phone: null });
    const contact = await stack.api.request<{ contact: Contact }>('GET', `/api/messages/${sessionId}/contacts/${encodeURIComponent(lid)}`);
    expect(contact.status).toBe(200);
    expect(contact.body.contact).toMatchObject({ id: lid, lid, phone: null });
  });

  it('shows a simulated sender by LID, with the phone once the two are contacts', async () => {
    const alice = await connectedSession();
    const bob = await connectedSession();
    const ws = await follow(alice.sessionId);
    try {
      const first = await stack.api.request('POST', `/api/messages/${bob.sessionId}/send`, { body: { chatId: alice.phone, text: 'hi alice' } });
      expect(first.status).toBe(201);
      const firstEvent = await ws.waitFor((frame) => messageBody(frame) === 'hi alice', 15_000);
      const bobLid = bob.session.me?.lid ?? '';
      expect(firstEvent.data).toMatchObject({ from: bobLid, chatId: bobLid, sender: { id: bobLid, lid: bobLid, phone: null } });

      // Alice answers the LID: Bob gets it, and now that they are contacts Alice's number comes with it.
      const answer = await stack.api.request('POST', `/api/messages/${alice.sessionId}/send`, { body: { chatId: bobLid, text: 'hi bob' } });
      expect(answer.status).toBe(201);
      const bobHistory = await eventually('bob to get the answer', async () => {
        const chats = await stack.api.request<{ chats: Chat[] }>('GET', `/api/messages/${bob.sessionId}/chats`);
        const chat = chats.body.chats.find((candidate) => candidate.lastMessage?.body === 'hi bob');
        return chat?.lastMessage ?? undefined;
      });
      expect(bobHistory.sender).toEqual({ id: alice.session.me?.lid, lid: alice.session.me?.lid, phone: alice.phone });
      // Bob began the chat with Alice's number: her answer lands in that chat.
      expect(bobHistory.chatId).toBe(`${alice.phone}@c.us`);

      const byLid = await stack.api.request<{ contact: Contact }>('GET', `/api/messages/${alice.sessionId}/contacts/${encodeURIComponent(bobLid)}`);
      expect(byLid.body.contact).toMatchObject({ id: bobLid, lid: bobLid, phone: bob.phone });
      const byPhone = await stack.api.request<{ contact: Contact }>('GET', `/api/messages/${alice.sessionId}/contacts/${encodeURIComponent(`+${bob.phone}`)}`);
      expect(byPhone.status).toBe(200);
      expect(byPhone.body.contact).toMatchObject({ id: `${bob.phone}@c.us`, lid: bobLid, phone: bob.phone });
    } finally {
      await ws.close();
    }
  });

  it('looks up an outside number on WhatsApp by phone, and answers 404 for what WhatsApp does not know', async () => {
    const { sessionId } = await connectedSession();
    const outside = await stack.api.request<{ contact: Contact }>('GET', `/api/messages/${sessionId}/contacts/4930123456`);
    expect(outside.status).toBe(200);
    expect(outside.body.contact).toMatchObject({ id: '4930123456@c.us', phone: '4930123456', lid: null });
    for (const unknown of ['15559990002', '999999999999999@lid']) {
      const response = await stack.api.request<ErrorBody>('GET', `/api/messages/${sessionId}/contacts/${encodeURIComponent(unknown)}`);
      expect(response.status, unknown).toBe(404);
      expect(response.body.error.code).toBe('CONTACT_NOT_FOUND');
    }
    const bad = await stack.api.request<ErrorBody>('GET', `/api/messages/${sessionId}/contacts/not-a-number`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('answers 422 RECIPIENT_NOT_ON_WHATSAPP for a number not on WhatsApp, and sends nothing', async () => {
    const { sessionId } = await connectedSession();
    const refused = await stack.api.request<ErrorBody>('POST', `/api/messages/${sessionId}/send`, {
      body: { chatId: '+1 555 999 0003', text: 'anyone?' },
      headers: { 'idempotency-key': unique('k') },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: 'RECIPIENT_NOT_ON_WHATSAPP', details: { chatId: '15559990003@c.us' } });
    expect(await history(sessionId, '15559990003@c.us')).toEqual([]);
    const chats = await stack.api.request<{ chats: Chat[] }>('GET', `/api/messages/${sessionId}/chats`);
    expect(chats.body.chats.map((chat) => chat.id)).not.toContain('15559990003@c.us');
    // Sending to a number on WhatsApp with no chat yet works.
    const fresh = await stack.api.request('POST', `/api/messages/${sessionId}/send`, { body: { chatId: '4930765432', text: 'first contact' } });
    expect(fresh.status).toBe(201);
  });

  it('links a session by pairing code, announcing the code on the WebSocket', async () => {
    const sessionId = await createInQr();
    const ws = await follow(sessionId);
    try {
      const phone = freshPhone();
      const asked = await stack.api.request<{ code: string }>('POST', `/api/sessions/${sessionId}/pairing-code`, {
        body: { phone: `+1 ${phone.slice(1, 4)}-${phone.slice(4)}` },
      });
      expect(asked.status).toBe(200);
      expect(asked.body.code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
      const announced = await ws.waitFor((frame) => connectionUpdate(frame)?.pairingCode === asked.body.code, 15_000);
      expect(connectionUpdate(announced)?.status).toBe('qr');

      const wrong = await stack.api.request<ErrorBody>('POST', `/api/simulator/sessions/${sessionId}/pair`, {
        body: { code: asked.body.code === 'AAAA-AAAA' ? 'BBBB-BBBB' : 'AAAA-AAAA' },
      });
      expect(wrong.status).toBe(409);
      expect(wrong.body.error.code).toBe('PAIRING_CODE_MISMATCH');
      expect((await sessionBecomes(stack.api, sessionId, 'qr')).me).toBeNull();

      const paired = await stack.api.request('POST', `/api/simulator/sessions/${sessionId}/pair`, {
        body: { code: asked.body.code.replace('-', '').toLowerCase() },
      });
      expect(paired.status).toBe(202);
      const session = await sessionBecomes(stack.api, sessionId, 'connected');
      expect(session.me?.id).toBe(`${phone}@c.us`);
      const authenticated = await ws.waitFor((frame) => connectionUpdate(frame)?.status === 'authenticated', 15_000);
      await ws.waitFor((frame) => connectionUpdate(frame)?.status === 'connected', 15_000, ws.frames.indexOf(authenticated));

      const again = await stack.api.request<ErrorBody>('POST', `/api/sessions/${sessionId}/pairing-code`, { body: { phone } });
      expect(again.status).toBe(409);
      expect(again.body.error).toMatchObject({ code: 'QR_NOT_AVAILABLE', details: { status: 'connected' } });
    } finally {
      await ws.close();
    }
  });

  it('refuses a pairing code request with a bad phone or fields it does not define', async () => {
    const sessionId = await createInQr();
    for (const body of [{}, { phone: '12' }, { phone: '15550100009@c.us' }, { phone: '15550100009', extra: 1 }]) {
      const response = await stack.api.request<ErrorBody>('POST', `/api/sessions/${sessionId}/pairing-code`, { body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    }
    const badCode = await stack.api.request<ErrorBody>('POST', `/api/simulator/sessions/${sessionId}/pair`, { body: { code: 'ABC' } });
    expect(badCode.status).toBe(400);
    const noSession = await stack.api.request<ErrorBody>('POST', '/api/sessions/nobody-here/pairing-code', { body: { phone: '15550100009' } });
    expect(noSession.status).toBe(404);
  });

  it('says a session is disconnected with SESSION_HOST_UNAVAILABLE while no host runs it, and 503s its messages at once', async () => {
    const { sessionId } = await connectedSession();
    // Every host stops (SIGTERM): nothing runs the session, and nothing may say it is connected.
    for (const host of stack.hosts.splice(0)) expect((await host.stop(15_000)).code).toBe(0);
    const stopped = await stack.api.request<{ session: Session }>('GET', `/api/sessions/${sessionId}`);
    expect(stopped.body.session).toMatchObject({ status: 'disconnected', lastError: { code: 'SESSION_HOST_UNAVAILABLE' } });
    const listed = await stack.api.request<{ sessions: Session[] }>('GET', '/api/sessions');
    expect(listed.body.sessions.find((session) => session.id === sessionId)).toMatchObject({
      status: 'disconnected',
      lastError: { code: 'SESSION_HOST_UNAVAILABLE' },
    });
    const send = await stack.api.request<ErrorBody>('POST', `/api/messages/${sessionId}/send`, { body: { chatId: '4930123456', text: 'x' } });
    expect(send.status).toBe(503);
    expect(send.body.error.code).toBe('SESSION_HOST_UNAVAILABLE');
    // A host comes back: it takes the session, which is connected again without a scan.
    await stack.startHost(unique('host'));
    const back = await sessionBecomes(stack.api, sessionId, 'connected', 30_000);
    expect(back.lastError).toBeNull();
  });
});
