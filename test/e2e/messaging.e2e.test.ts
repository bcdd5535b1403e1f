/**
 * Messaging beyond text, end to end on the simulator (HTTP → serverless offline → Redis → session host → the other
 * session): media by data and by URL round-trip byte-identical, replies, reactions, edits and deletes reach the other
 * side as events, mark-read moves the sender's ack to `read`, and history pages walk back with no message twice.
 * Each test makes its own pair of sessions.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../contract/api.js';
import { sessionBecomes } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { connectWebSocket, type ReceivedFrame, type TestWebSocket } from '../support/ws-client.js';

let stack: TestStack;
let files: Server;
let filesUrl: string;
const sockets: TestWebSocket[] = [];
const document = randomBytes(300_000);

beforeAll(async () => {
  // Mark-read is what moves an ack to `read` here (no reading by itself), and the test's file server is on loopback.
  stack = await startTestStack({
    hostEnv: { SIMULATOR_READ_AFTER_MS: '0' },
    offlineEnv: { MEDIA_FETCH_ALLOW_PRIVATE: 'true', SEND_RATE_LIMIT: '1000' },
  });
  files = createServer((request, response) => {
    if (request.url === '/report.pdf') {
      response.writeHead(200, { 'content-type': 'application/pdf', 'content-length': String(document.byteLength) });
      response.end(document);
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.close()));
  await new Promise<void>((resolve) => (files ? files.close(() => resolve()) : resolve()));
  await stack?.stop();
});

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const freshPhone = () => `155501${String(Math.floor(Math.random() * 100_000)).padStart(5, '0')}`;

interface Party {
  sessionId: string;
  phone: string;
  events: TestWebSocket;
}

async function connectedParty(): Promise<Party> {
  const sessionId = unique('m');
  expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId } })).status).toBe(201);
  await sessionBecomes(stack.api, sessionId, 'qr');
  const events = await connectWebSocket(`${stack.offline.websocketUrl}/?apiKey=${stack.apiKey}&sessionId=${sessionId}`);
  sockets.push(events);
  const phone = freshPhone();
  expect((await stack.api.request('POST', `/api/simulator/sessions/${sessionId}/scan`, { body: { phone } })).status).toBe(202);
  await sessionBecomes(stack.api, sessionId, 'connected');
  return { sessionId, phone, events };
}

async function pair(): Promise<[Party, Party]> {
  return Promise.all([connectedParty(), connectedParty()]);
}

async function send(from: Party, body: Record<string, unknown>): Promise<Message> {
  const response = await stack.api.request<{ message: Message }>('POST', `/api/messages/${from.sessionId}/send`, { body });
  expect(response.status, response.text).toBe(201);
  return response.body.message;
}

/** The `message` event at `to` of the message whose body is `body`. */
async function arrival(to: Party, match: (message: Message) => boolean): Promise<Message> {
  const frame = await to.events.waitFor((candidate) => candidate.event === 'message' && match(candidate.data as Message), 15_000);
  return frame.data as Message;
}

function eventOf(party: Party, event: string, match: (data: Record<string, unknown>) => boolean): Promise<ReceivedFrame> {
  return party.events.waitFor((frame) => frame.event === event && match(frame.data as Record<string, unknown>), 15_000);
}

async function download(party: Party, message: Message): Promise<{ status: number; type: string | null; disposition: string | null; bytes: Buffer }> {
  const url = message.media?.url;
  expect(url).toBe(`/api/messages/${party.sessionId}/message/${encodeURIComponent(message.id)}/media`);
  const response = await fetch(`${stack.offline.httpUrl}${url}`, { headers: { 'x-api-key': stack.apiKey }, signal: AbortSignal.timeout(30_000) });
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    disposition: response.headers.get('content-disposition'),
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

const messagePath = (party: Party, messageId: string) => `/api/messages/${party.sessionId}/message/${encodeURIComponent(messageId)}`;

describe('messaging beyond text, on the simulator', () => {
  it('sends an image by data to another session, which receives its metadata and downloads it byte-identical', async () => {
    const [alice, bob] = await pair();
    const image = randomBytes(50_000);
    const sent = await send(alice, { chatId: bob.phone, media: { data: image.toString('base64'), mimetype: 'image/png', caption: 'a cat' } });
    expect(sent).toMatchObject({ type: 'image', body: 'a cat', media: { mimetype: 'image/png', size: image.byteLength, filename: null } });
    const received = await arrival(bob, (message) => message.type === 'image');
    expect(received).toMatchObject({ body: 'a cat', fromMe: false, media: { mimetype: 'image/png', size: image.byteLength } });
    const fetched = await download(bob, received);
    expect(fetched.status).toBe(200);
    expect(fetched.type).toBe('image/png');
    expect(fetched.bytes.equals(image)).toBe(true);
    // The sender downloads its own too.
    expect((await download(alice, sent)).bytes.equals(image)).toBe(true);
  });

  it('sends a document by URL (fetched by the service) that arrives with its name and downloads byte-identical', async () => {
    const [alice, bob] = await pair();
    const sent = await send(alice, { chatId: bob.phone, media: { url: `${filesUrl}/report.pdf`, mimetype: 'application/pdf' } });
    expect(sent).toMatchObject({ type: 'document', media: { mimetype: 'application/pdf', filename: 'report.pdf', size: document.byteLength } });
    const received = await arrival(bob, (message) => message.type === 'document');
    expect(received.media).toMatchObject({ filename: 'report.pdf', size: document.byteLength });
    const fetched = await download(bob, received);
    expect(fetched.status).toBe(200);
    expect(fetched.disposition).toContain('report.pdf');
    expect(fetched.bytes.equals(document)).toBe(true);
  });

  it('sends a voice note and a location', async () => {
    const [alice, bob] = await pair();
    await send(alice, { chatId: bob.phone, media: { data: randomBytes(2_000).toString('base64'), mimetype: 'audio/ogg; codecs=opus', asVoice: true } });
    expect((await arrival(bob, (message) => message.media !== null)).type).toBe('ptt');
    await send(alice, { chatId: bob.phone, location: { latitude: 52.52, longitude: 13.405, name: 'Berlin' } });
    const location = await arrival(bob, (message) => message.type === 'location');
    expect(location.location).toEqual({ latitude: 52.52, longitude: 13.405, name: 'Berlin', address: null });
  });

  it('delivers a reply, reactions added and removed, an edit and a delete for everyone as events on the other side', async () => {
    const [alice, bob] = await pair();
    const question = await send(alice, { chatId: bob.phone, text: 'lunch?' });
    const atBob = await arrival(bob, (message) => message.body === 'lunch?');

    // Bob replies, quoting it: Alice sees the quote by her own id of the message.
    const reply = await send(bob, { chatId: atBob.chatId, text: 'yes', replyTo: atBob.id });
    expect(reply.quotedMessageId).toBe(atBob.id);
    expect((await arrival(alice, (message) => message.body === 'yes')).quotedMessageId).toBe(question.id);

    // Bob reacts, then takes the reaction back.
    expect((await stack.api.request('POST', `${messagePath(bob, atBob.id)}/reaction`, { body: { emoji: '👍' } })).status).toBe(200);
    const added = await eventOf(alice, 'message_reaction', (data) => data.messageId === question.id && data.emoji === '👍');
    expect(added.data).toMatchObject({ chatId: question.chatId, sender: { id: expect.stringMatching(/@lid$/) } });
    expect((await stack.api.request('POST', `${messagePath(bob, atBob.id)}/reaction`, { body: { emoji: '' } })).status).toBe(200);
    await eventOf(alice, 'message_reaction', (data) => data.messageId === question.id && data.emoji === '');

    // Alice edits her question: Bob gets the new text, and his history has it.
    const edited = await stack.api.request<{ message: Message }>('PATCH', messagePath(alice, question.id), { body: { text: 'lunch at 1?' } });
    expect(edited.status).toBe(200);
    expect(edited.body.message.body).toBe('lunch at 1?');
    await eventOf(bob, 'message_edited', (data) => data.messageId === atBob.id && data.body === 'lunch at 1?');
    // Only her own text messages: Bob's copy is not his to edit.
    const refused = await stack.api.request<{ error: { code: string } }>('PATCH', messagePath(bob, atBob.id), { body: { text: 'no' } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('MESSAGE_NOT_EDITABLE');

    // Alice deletes it for everyone.
    expect((await stack.api.request('DELETE', `${messagePath(alice, question.id)}?everyone=true`)).status).toBe(200);
    await eventOf(bob, 'message_revoked', (data) => data.messageId === atBob.id && data.chatId === atBob.chatId);
  });

  it('marks a chat read, which moves the sender’s ack to read', async () => {
    const [alice, bob] = await pair();
    const sent = await send(alice, { chatId: bob.phone, text: 'did you see this?' });
    const atBob = await arrival(bob, (message) => message.id.endsWith(sent.id.split('_').at(-1) ?? '?'));
    await eventOf(alice, 'message_ack', (data) => data.messageId === sent.id && data.ack === 'delivered');
    expect(alice.events.frames.some((frame) => frame.event === 'message_ack' && (frame.data as { ack: string }).ack === 'read')).toBe(false);
    const read = await stack.api.request('POST', `/api/messages/${bob.sessionId}/chat/${encodeURIComponent(atBob.chatId)}/read`);
    expect(read.status).toBe(200);
    await eventOf(alice, 'message_ack', (data) => data.messageId === sent.id && data.ack === 'read');
  });

  it('pages a 120-message history back in pages of 50, none twice and none missing', async () => {
    const [alice, bob] = await pair();
    const sent: string[] = [];
    for (let index = 0; index < 120; index += 1) sent.push((await send(alice, { chatId: bob.phone, text: `#${index}` })).id);
    const chat = encodeURIComponent(`${bob.phone}@c.us`);
    const pages: string[][] = [];
    let before: string | null = null;
    do {
      const query: string = before === null ? '?limit=50' : `?limit=50&before=${encodeURIComponent(before)}`;
      const page = await stack.api.request<{ messages: Message[]; nextBefore: string | null }>('GET', `/api/messages/${alice.sessionId}/chat/${chat}${query}`);
      expect(page.status).toBe(200);
      pages.push(page.body.messages.map((message) => message.id));
      before = page.body.nextBefore;
    } while (before !== null && pages.length < 10);
    expect(pages.map((page) => page.length)).toEqual([50, 50, 20]);
    expect(pages.reverse().flat()).toEqual(sent);
  });

  it('answers 404 MESSAGE_NOT_FOUND for an unknown message and 400 for a send with two contents', async () => {
    const [alice] = await pair();
    const unknown = 'true_15550100001@c.us_3EB0FFFFFFFFFFFF';
    for (const [method, path, body] of [
      ['GET', `${messagePath(alice, unknown)}/media`, undefined],
      ['POST', `${messagePath(alice, unknown)}/reaction`, { emoji: '👍' }],
      ['PATCH', messagePath(alice, unknown), { text: 'x' }],
      ['DELETE', messagePath(alice, unknown), undefined],
      ['GET', `/api/messages/${alice.sessionId}/chat/15550100001?before=${encodeURIComponent(unknown)}`, undefined],
    ] as const) {
      const response = await stack.api.request<{ error: { code: string } }>(method, path, body === undefined ? {} : { body });
      expect(`${method} ${path} ${response.status} ${response.body.error?.code}`).toBe(`${method} ${path} 404 MESSAGE_NOT_FOUND`);
    }
    const both = await stack.api.request<{ error: { code: string } }>('POST', `/api/messages/${alice.sessionId}/send`, {
      body: { chatId: '15550100001', text: 'hi', location: { latitude: 0, longitude: 0 } },
    });
    expect(both.status).toBe(400);
    expect(both.body.error.code).toBe('VALIDATION_FAILED');
  });
});
