/**
 * Real-time events through the real serverless offline WebSocket API: filters, every event kind of the contract,
 * refused keys, resume without gap or duplicate, and removal of gone connections.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, Session } from '../../contract/api.js';
import { redisKeys } from '../../contract/redis-keys.js';
import { eventually } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { connectWebSocket, HandshakeRefused, type ReceivedFrame, type TestWebSocket } from '../support/ws-client.js';

let stack: TestStack;
let redis: Redis;
const sockets: TestWebSocket[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  redis = new Redis(stack.redis.url);
});

afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.close()));
  redis?.disconnect();
  await stack?.stop();
});

async function open(query: string, headers: Record<string, string> = {}): Promise<TestWebSocket> {
  const socket = await connectWebSocket(`${stack.offline.websocketUrl}/?${query}`, headers);
  sockets.push(socket);
  return socket;
}

const of = (sessionId: string) => (frame: ReceivedFrame) => frame.sessionId === sessionId;
/** The events of a session only: frames with an id (`resumed` and `error` frames name a session, and are no events). */
const eventOf = (sessionId: string) => (frame: ReceivedFrame) => of(sessionId)(frame) && typeof frame.id === 'string';
const statusOf = (frame: ReceivedFrame) => (frame.data as { status?: string } | undefined)?.status;

async function createAndConnect(sessionId: string, phone: string): Promise<void> {
  expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId } })).status).toBe(201);
  await eventually(`${sessionId} in qr`, async () => {
    const response = await stack.api.request<{ session: Session }>('GET', `/api/sessions/${sessionId}`);
    return response.body.session.status === 'qr' ? true : undefined;
  });
  expect((await stack.api.request('POST', `/api/simulator/sessions/${sessionId}/scan`, { body: { phone } })).status).toBe(202);
  await eventually(`${sessionId} connected`, async () => {
    const response = await stack.api.request<{ session: Session }>('GET', `/api/sessions/${sessionId}`);
    return response.body.session.status === 'connected' ? true : undefined;
  });
}

describe('WebSocket events end to end', () => {
  it('refuses a wrong or missing key at the handshake, and takes the key from the query or the header', async () => {
    for (const query of ['apiKey=wrong', '', `apiKey=${stack.apiKey}x`]) {
      const refused = await connectWebSocket(`${stack.offline.websocketUrl}/?${query}`).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(HandshakeRefused);
      expect((refused as HandshakeRefused).statusCode).toBe(401);
    }
    const byHeader = await open('', { 'x-api-key': stack.apiKey });
    byHeader.send({ action: 'ping' });
    await byHeader.waitFor((frame) => frame.event === 'pong');
    await byHeader.close();
  });

  it('answers ping, subscribe, unsubscribe, and an error for anything else', async () => {
    const socket = await open(`apiKey=${stack.apiKey}`);
    socket.send({ action: 'ping' });
    await socket.waitFor((frame) => frame.event === 'pong');
    socket.send({ action: 'subscribe', sessionId: 'someone' });
    expect(await socket.waitFor((frame) => frame.event === 'subscribed')).toEqual({ event: 'subscribed', sessionId: 'someone' });
    socket.send({ action: 'unsubscribe', sessionId: 'someone' });
    expect(await socket.waitFor((frame) => frame.event === 'unsubscribed')).toEqual({ event: 'unsubscribed', sessionId: 'someone' });
    // Each error frame names the action it answers, and the session when the action named a well-formed one.
    const bad = [
      [{ action: 'dance' }, {}],
      [{ action: 'subscribe', sessionId: '../x' }, { action: 'subscribe' }],
      [{ nothing: true }, {}],
      [{ action: 'resume', sessionId: 'x', after: 'yesterday' }, { action: 'resume', sessionId: 'x' }],
    ] as const;
    for (const [message, names] of bad) {
      const from = socket.frames.length;
      socket.send(message);
      const error = await socket.waitFor((frame) => frame.event === 'error', 10_000, from);
      expect(error).toEqual({ event: 'error', ...names, data: { code: expect.any(String), message: expect.any(String) } });
    }
    await socket.close();
  });

  it('delivers connection updates, messages and acks to the subscribers of a session only; unfiltered clients get all', async () => {
    const filtered = await open(`apiKey=${stack.apiKey}&sessionId=ws-alice`);
    const unfiltered = await open(`apiKey=${stack.apiKey}`);
    const bySubscribe = await open(`apiKey=${stack.apiKey}`);
    bySubscribe.send({ action: 'subscribe', sessionId: 'ws-bob' });
    await bySubscribe.waitFor((frame) => frame.event === 'subscribed');

    await createAndConnect('ws-alice', '15550200001');
    await createAndConnect('ws-bob', '15550200002');

    const aliceStatuses = () => filtered.frames.filter((frame) => frame.event === 'connection_update').map(statusOf);
    await filtered.waitFor((frame) => frame.event === 'connection_update' && statusOf(frame) === 'connected');
    expect(aliceStatuses()).toEqual(['starting', 'qr', 'authenticated', 'connected']);
    const qrUpdate = filtered.frames.find((frame) => statusOf(frame) === 'qr');
    expect(qrUpdate).toMatchObject({ event: 'connection_update', sessionId: 'ws-alice', data: { status: 'qr', qr: expect.any(String), lastError: null } });
    expect(typeof qrUpdate?.id).toBe('string');
    expect(new Date(String(qrUpdate?.timestamp)).toISOString()).toBe(qrUpdate?.timestamp);

    // bob → alice: alice's subscribers see the incoming message; bob's see the acks of bob's send.
    const sent = await stack.api.request<{ message: Message }>('POST', '/api/messages/ws-bob/send', { body: { chatId: '15550200001', text: 'hi alice' } });
    expect(sent.status).toBe(201);
    const incoming = await filtered.waitFor((frame) => frame.event === 'message');
    expect(incoming).toMatchObject({ sessionId: 'ws-alice', data: { body: 'hi alice', fromMe: false, from: expect.stringMatching(/^\d{15}@lid$/), sender: { phone: null } } });
    const acks = await eventually('delivered and read acks', async () => {
      const seen = bySubscribe.frames.filter((frame) => frame.event === 'message_ack').map((frame) => (frame.data as { ack: string }).ack);
      return seen.includes('read') ? seen : undefined;
    });
    expect(acks).toEqual(['delivered', 'read']);
    expect(bySubscribe.frames.find((frame) => frame.event === 'message_ack')?.data).toEqual({
      messageId: sent.body.message.id,
      chatId: '15550200001@c.us',
      ack: 'delivered',
    });

    // Filters hold: nothing of bob reached alice's subscriber, nothing of alice reached bob's.
    expect(filtered.frames.filter((frame) => frame.sessionId !== undefined && !of('ws-alice')(frame))).toEqual([]);
    expect(bySubscribe.frames.filter((frame) => frame.sessionId !== undefined && !of('ws-bob')(frame))).toEqual([]);
    // The own send of bob is not a `message` event.
    expect(bySubscribe.frames.filter((frame) => frame.event === 'message')).toEqual([]);
    // The unfiltered client saw both sessions.
    expect(new Set(unfiltered.frames.map((frame) => frame.sessionId))).toEqual(new Set(['ws-alice', 'ws-bob']));

    // Ids increase within a session.
    const ids = unfiltered.frames.filter(of('ws-alice')).map((frame) => String(frame.id));
    expect(ids).toEqual([...ids].sort(compareIds));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('replays exactly the missed events on resume, in order, then goes on live', async () => {
    const witness = await open(`apiKey=${stack.apiKey}&sessionId=ws-alice`);
    const first = await open(`apiKey=${stack.apiKey}&sessionId=ws-alice`);
    await inject(2, 'before');
    await first.waitFor((frame) => frame.event === 'message' && (frame.data as Message).body === 'before-2');
    const lastSeen = String(first.frames.filter(of('ws-alice')).at(-1)?.id);
    first.terminate();

    await inject(5, 'missed');
    // Reconnect filtered on a session with no traffic, so that nothing arrives before the resume is handled.
    const second = await open(`apiKey=${stack.apiKey}&sessionId=quiet`);
    const resuming = inject(10, 'during');
    second.send({ action: 'resume', sessionId: 'ws-alice', after: lastSeen });
    await resuming;
    await inject(3, 'after');
    await second.waitFor((frame) => frame.event === 'message' && (frame.data as Message).body === 'after-3', 15_000);
    await witness.waitFor((frame) => frame.event === 'message' && (frame.data as Message).body === 'after-3', 15_000);

    const expected = witness.frames.filter((frame) => of('ws-alice')(frame) && compareIds(String(frame.id), lastSeen) > 0).map((frame) => frame.id);
    const received = second.frames.filter(eventOf('ws-alice')).map((frame) => frame.id);
    expect(received).toEqual(expected);
    expect(received.length).toBe(18);
    // `resumed` came once, after the replayed events (the missed 5, and those of the 10 raised meanwhile it read).
    const resumed = second.frames.filter((frame) => frame.event === 'resumed');
    expect(resumed).toEqual([{ event: 'resumed', sessionId: 'ws-alice', replayed: expect.any(Number), expired: false }]);
    const replayed = second.frames.slice(0, second.frames.indexOf(resumed[0]!)).filter(eventOf('ws-alice'));
    expect(replayed.length).toBe(resumed[0]!.replayed);
    expect(replayed.length).toBeGreaterThanOrEqual(5);
  });

  it('does not send an event twice when the live stream began before the resume', async () => {
    const witness = await open(`apiKey=${stack.apiKey}&sessionId=ws-alice`);
    await inject(1, 'mark');
    await witness.waitFor((frame) => frame.event === 'message' && (frame.data as Message).body === 'mark-1');
    const after = String(witness.frames.filter(of('ws-alice')).at(-1)?.id);
    await inject(3, 'gap');
    const client = await open(`apiKey=${stack.apiKey}&sessionId=ws-alice`);
    const live = inject(5, 'live');
    client.send({ action: 'resume', sessionId: 'ws-alice', after });
    await live;
    await client.waitFor((frame) => frame.event === 'message' && (frame.data as Message).body === 'live-5', 15_000);
    await witness.waitFor((frame) => frame.event === 'message' && (frame.data as Message).body === 'live-5', 15_000);
    const received = client.frames.filter(eventOf('ws-alice')).map((frame) => String(frame.id));
    const expected = witness.frames.filter((frame) => of('ws-alice')(frame) && compareIds(String(frame.id), after) > 0).map((frame) => String(frame.id));
    expect(new Set(received).size).toBe(received.length);
    expect([...received].sort(compareIds)).toEqual(expected);
  });

  it('says EVENTS_EXPIRED, then replays from the oldest kept, when the log no longer reaches back', async () => {
    const key = redisKeys(stack.keyPrefix).events('ws-alice');
    const entries = await redis.xrange(key, '-', '+');
    const veryFirst = entries[0]?.[0];
    expect(veryFirst).toBeDefined();
    // Trim the two oldest events away, as the length or age cap would.
    await redis.xtrim(key, 'MAXLEN', entries.length - 2);
    const client = await open(`apiKey=${stack.apiKey}&sessionId=quiet`);
    client.send({ action: 'resume', sessionId: 'ws-alice', after: veryFirst });
    const error = await client.waitFor((frame) => frame.event === 'error');
    expect(error).toMatchObject({ sessionId: 'ws-alice', action: 'resume', data: { code: 'EVENTS_EXPIRED' } });
    await eventually('the replay', async () => (client.frames.filter(of('ws-alice')).length >= entries.length - 2 + 1 ? true : undefined));
    const replayed = client.frames.filter(eventOf('ws-alice')).map((frame) => frame.id);
    expect(replayed).toEqual(entries.slice(2).map(([id]) => id));
    expect(client.frames.indexOf(error)).toBe(0);
    expect(await client.waitFor((frame) => frame.event === 'resumed')).toEqual({
      event: 'resumed',
      sessionId: 'ws-alice',
      replayed: entries.length - 2,
      expired: true,
    });
  });

  it('leaves an unfiltered connection unfiltered after a resume', async () => {
    const client = await open(`apiKey=${stack.apiKey}`);
    const entries = await redis.xrange(redisKeys(stack.keyPrefix).events('ws-alice'), '-', '+');
    client.send({ action: 'resume', sessionId: 'ws-alice', after: entries.at(-1)![0] });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await inject(1, 'still-all');
    expect((await stack.api.request('POST', '/api/simulator/sessions/ws-bob/incoming', { body: { from: '4930999999', text: 'to bob' } })).status).toBe(202);
    await client.waitFor((frame) => frame.sessionId === 'ws-alice' && (frame.data as Message | undefined)?.body === 'still-all-1');
    await client.waitFor((frame) => frame.sessionId === 'ws-bob' && (frame.data as Message | undefined)?.body === 'to bob');
  });

  it('removes a connection that is gone (no $disconnect) at its first failed post', async () => {
    const keys = redisKeys(stack.keyPrefix);
    const ghost = 'ghost-connection-id=';
    await redis.multi().hset(keys.wsConnection(ghost), 'connectedAt', new Date().toISOString(), 's:ws-alice', '1').zadd(keys.wsFollowers('ws-alice'), Date.now() + 3_600_000, ghost).exec();
    const healthy = await open(`apiKey=${stack.apiKey}&sessionId=ws-alice`);
    await inject(1, 'to-ghost');
    await healthy.waitFor((frame) => frame.event === 'message' && (frame.data as Message).body === 'to-ghost-1');
    await eventually('the ghost to be removed', async () => {
      const [exists, member] = await Promise.all([redis.exists(keys.wsConnection(ghost)), redis.zscore(keys.wsFollowers('ws-alice'), ghost)]);
      return exists === 0 && member === null ? true : undefined;
    });
  });
});

async function inject(count: number, label: string): Promise<void> {
  for (let index = 1; index <= count; index += 1) {
    const response = await stack.api.request('POST', '/api/simulator/sessions/ws-alice/incoming', { body: { from: '4930123456', text: `${label}-${index}` } });
    expect(response.status).toBe(202);
  }
}

function compareIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq;
}
