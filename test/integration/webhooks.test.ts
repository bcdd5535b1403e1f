/**
 * Webhook delivery against real Redis and a real HTTP receiver on loopback: the store, the dispatcher and the real
 * event log, in this process (test/e2e/webhooks.e2e.test.ts runs real session hosts). Webhooks are registered
 * through `api` below: the store today, the REST routes once they exist (one line to change).
 */
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { eventBodySchema, type EventBody } from '../../contract/events.js';
import type { RedisKeys } from '../../contract/redis-keys.js';
import type { CreateWebhookBody } from '../../contract/webhooks.js';
import { WebhookStore } from '../../lib/webhook-store.js';
import { EventLog } from '../../session-host/events/event-log.js';
import { WebhookDispatcher } from '../../session-host/webhooks/webhook-dispatcher.js';
import { waitFor } from '../../scripts/support/processes.js';
import { silentLogger, useRedisServer } from '../support/redis.js';
import { inOrderWithoutGap, startReceiver, type Receiver } from './webhook-receiver.js';

const fixture = useRedisServer();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const eventually = <T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000) =>
  waitFor(what, async () => check(), timeoutMs, 20);

interface Setup {
  keys: RedisKeys;
  store: WebhookStore;
  log: EventLog;
  dispatcher: WebhookDispatcher;
  /** The webhook API as a client sees it: the store now, REST calls later. */
  api: {
    create(body: CreateWebhookBody): ReturnType<WebhookStore['create']>;
    get(id: string): ReturnType<WebhookStore['get']>;
    remove(id: string): ReturnType<WebhookStore['delete']>;
    deliveries(id: string, status?: 'delivered' | 'failed' | 'dead'): ReturnType<WebhookStore['deliveries']>;
    replay(id: string, sessionId: string, after: string): Promise<number>;
  };
  receiver(): Promise<Receiver>;
  /** Appends `count` incoming messages to the session's log; answers their ids. */
  append(sessionId: string, count: number, event?: EventBody['event']): Promise<string[]>;
}

async function setup(options: { retryForMs?: number; sessions?: string[]; timeoutMs?: number; logMaxLength?: number } = {}): Promise<Setup> {
  const redis = fixture.client();
  const subscriber = fixture.client();
  const keys = fixture.keys();
  const hostId = 'host-1';
  for (const sessionId of options.sessions ?? ['alice', 'bob']) {
    await redis.set(keys.session(sessionId), '{}');
    await redis.zadd(keys.sessions, Date.now(), sessionId);
    await redis.set(keys.sessionOwner(sessionId), hostId);
  }
  const store = new WebhookStore(redis, keys, { allowPrivate: true });
  const log = new EventLog(redis, keys, { maxLength: options.logMaxLength ?? 10_000, retentionMs: 3_600_000 });
  const dispatcher = new WebhookDispatcher({
    store,
    events: log,
    redis,
    keys,
    hostId,
    owns: () => true,
    logger: process.env.DEBUG_WEBHOOKS === '1' ? pino({ level: 'debug' }, pino.destination(2)) : silentLogger(),
    subscriber,
    retryForMs: options.retryForMs ?? 60_000,
    timeoutMs: options.timeoutMs ?? 5_000,
    concurrency: 16,
    allowPrivate: true,
    backoff: { baseMs: 20, maxMs: 200 },
  });
  await dispatcher.start();
  cleanups.push(() => dispatcher.stop(2_000));
  let counter = 0;
  return {
    keys,
    store,
    log,
    dispatcher,
    api: {
      create: (body) => store.create(body),
      get: (id) => store.get(id),
      remove: (id) => store.delete(id),
      deliveries: (id, status) => store.deliveries(id, { status, limit: 500 }),
      replay: (id, sessionId, after) => store.replay(id, sessionId, after),
    },
    receiver: async () => {
      const receiver = await startReceiver();
      cleanups.push(() => receiver.close());
      return receiver;
    },
    append: async (sessionId, count, event = 'message') => {
      const ids: string[] = [];
      for (let index = 0; index < count; index += 1) {
        counter += 1;
        const timestamp = new Date().toISOString();
        const body: EventBody =
          event === 'message_ack'
            ? { event, sessionId, timestamp, data: { messageId: `m${counter}`, chatId: '15550100002@c.us', ack: 'delivered' } }
            : event === 'connection_update'
              ? { event, sessionId, timestamp, data: { status: 'connected', qr: null, lastError: null } }
              : {
                  event: 'message',
                  sessionId,
                  timestamp,
                  data: {
                    id: `false_15550100002@c.us_${counter}`,
                    chatId: '15550100002@c.us',
                    from: '15550100002@c.us',
                    to: '15550100001@c.us',
                    fromMe: false,
                    type: 'chat',
                    body: `hello ${counter}`,
                    timestamp,
                    ack: 'delivered',
                    sender: { id: '15550100002@c.us', lid: null, phone: '15550100002' },
                    quotedMessageId: null,
                    media: null,
                    location: null,
                  },
                };
        // Loudly, if the event contract grew a field this test does not fill: the log would skip the event.
        const appended = await log.append(eventBodySchema.parse(body));
        if (appended === null) throw new Error('not appended');
        ids.push(appended.id);
      }
      return ids;
    },
  };
}

describe('webhook deliveries', () => {
  it('signs each POST per Standard Webhooks: it verifies with the library, and a tampered body does not', async () => {
    const { api, receiver: start, append } = await setup();
    const receiver = await start();
    const { webhook, secret } = await api.create({ url: receiver.url });
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32,}$/);
    expect(webhook).toMatchObject({ status: 'active', events: [], sessions: [], description: null });
    const [id] = await append('alice', 1);
    await eventually('the delivery', () => (receiver.delivered().length === 1 ? true : undefined));
    const request = receiver.requests[0]!;
    const headers = {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    };
    expect(headers['webhook-id']).toBe(id);
    expect(headers['webhook-signature']).toMatch(/^v1,/);
    const verifier = new StandardWebhook(secret);
    expect(verifier.verify(request.body, headers)).toMatchObject({ id, event: 'message', sessionId: 'alice' });
    expect(() => verifier.verify(request.body.replace('hello', 'HELLO'), headers)).toThrow();
    expect(() => new StandardWebhook(`whsec_${Buffer.alloc(24, 7).toString('base64')}`).verify(request.body, headers)).toThrow();
    // The body is the WebSocket frame of the event, nothing added.
    expect(Object.keys(JSON.parse(request.body) as object).sort()).toEqual(['data', 'event', 'id', 'sessionId', 'timestamp']);
  });

  it('delivers only the events and sessions a webhook asks for', async () => {
    const { api, receiver: start, append } = await setup();
    const all = await start();
    const acksOnly = await start();
    const bobOnly = await start();
    await api.create({ url: all.url });
    await api.create({ url: acksOnly.url, events: ['message_ack'] });
    await api.create({ url: bobOnly.url, sessions: ['bob'] });
    const aliceMessages = await append('alice', 2);
    const aliceAcks = await append('alice', 2, 'message_ack');
    const bobMessages = await append('bob', 2);
    const bobAcks = await append('bob', 1, 'message_ack');
    await eventually('every delivery', () => (all.delivered().length === 7 && acksOnly.delivered().length === 3 && bobOnly.delivered().length === 3 ? true : undefined));
    expect(acksOnly.delivered().map((frame) => frame.id).sort()).toEqual([...aliceAcks, ...bobAcks].sort());
    expect(bobOnly.delivered().map((frame) => frame.id)).toEqual([...bobMessages, ...bobAcks]);
    expect(all.delivered().filter((frame) => frame.sessionId === 'alice').map((frame) => frame.id)).toEqual([...aliceMessages, ...aliceAcks]);
  });

  it('retries 500s and delivers everything in order after them, honouring retry-after', async () => {
    const { api, receiver: start, append } = await setup();
    const receiver = await start();
    receiver.respond(({ index }) => (index < 3 ? 500 : index === 3 ? { status: 503, headers: { 'retry-after': '0' } } : 200));
    const { webhook } = await api.create({ url: receiver.url });
    const ids = await append('alice', 6);
    await eventually('all six delivered', () => (receiver.delivered().length === 6 ? true : undefined));
    expect(receiver.delivered().map((frame) => frame.id)).toEqual(ids);
    // The first event was tried five times (four failures), and nothing after it went out before it was delivered.
    expect(receiver.requests.slice(0, 5).map((request) => JSON.parse(request.body).id)).toEqual(Array(5).fill(ids[0]));
    const deliveries = await api.deliveries(webhook.id, 'delivered');
    expect(deliveries.map((delivery) => delivery.eventId)).toEqual([...ids].reverse());
    expect(deliveries.at(-1)).toMatchObject({ attempts: 5, status: 'delivered', lastStatusCode: 200, lastError: null, nextAttemptAt: null });
    expect((await api.get(webhook.id)).status).toBe('active');
  });

  it('gets everything to a receiver that was down, in order, once it is back', async () => {
    const { api, receiver: start, append } = await setup();
    const receiver = await start();
    const { webhook } = await api.create({ url: receiver.url });
    const before = await append('alice', 2);
    await eventually('the first two', () => (receiver.delivered().length === 2 ? true : undefined));
    await receiver.down();
    const during = await append('alice', 5);
    const bobDuring = await append('bob', 2);
    await eventually('the webhook to be failing', async () => ((await api.get(webhook.id)).status === 'failing' ? true : undefined));
    const failed = await api.deliveries(webhook.id, 'failed');
    expect(failed[0]).toMatchObject({ status: 'failed', lastStatusCode: null });
    expect(failed[0]?.lastError).toMatch(/ECONNREFUSED|ECONNRESET|socket/);
    await receiver.up();
    await eventually('everything after', () => (receiver.delivered().length === 9 ? true : undefined));
    const alice = receiver.delivered().filter((frame) => frame.sessionId === 'alice').map((frame) => frame.id);
    expect(alice).toEqual([...before, ...during]);
    expect(receiver.delivered().filter((frame) => frame.sessionId === 'bob').map((frame) => frame.id)).toEqual(bobDuring);
    await eventually('the webhook to be active again', async () => ((await api.get(webhook.id)).status === 'active' ? true : undefined));
  });

  it('lists events trimmed from the log before they were delivered as a dead delivery, and goes on after them', async () => {
    const { api, receiver: start, append } = await setup({ logMaxLength: 3 });
    const receiver = await start();
    const { webhook } = await api.create({ url: receiver.url });
    await append('alice', 1);
    await eventually('the first', () => (receiver.delivered().length === 1 ? true : undefined));
    await receiver.down();
    const during = await append('alice', 8);
    await eventually('a failing delivery', async () => ((await api.deliveries(webhook.id, 'failed')).length > 0 ? true : undefined));
    await receiver.up();
    // The log keeps the last 3: they arrive, and the gap before them is listed, never lost silently.
    await eventually('the events still in the log', () =>
      during.slice(-3).every((id) => receiver.delivered().some((frame) => frame.id === id)) ? true : undefined,
    );
    const dead = await api.deliveries(webhook.id, 'dead');
    const gap = dead.find((delivery) => delivery.event === 'events_expired');
    expect(gap).toMatchObject({ sessionId: 'alice', status: 'dead', attempts: 0 });
    expect(gap?.lastError).toMatch(/trimmed from the session's event log/);
  });

  it('holds back only the failing session: another session of the same webhook, and another webhook, go on', async () => {
    const { api, receiver: start, append } = await setup();
    const slow = await start();
    const fine = await start();
    slow.respond(({ body }) => ((JSON.parse(body) as { sessionId: string }).sessionId === 'alice' ? 'hang' : 200));
    await api.create({ url: slow.url });
    await api.create({ url: fine.url });
    const alice = await append('alice', 3);
    const bob = await append('bob', 3);
    await eventually('bob on the slow receiver, everything on the fine one', () =>
      slow.delivered().length === 3 && fine.delivered().length === 6 ? true : undefined,
    );
    expect(slow.delivered().map((frame) => frame.id)).toEqual(bob);
    expect(fine.delivered().filter((frame) => frame.sessionId === 'alice').map((frame) => frame.id)).toEqual(alice);
    // Alice's first event is still being tried on the slow receiver; none of her later ones went out before it.
    expect(slow.requests.filter((request) => (JSON.parse(request.body) as { sessionId: string }).sessionId === 'alice').every((request) => JSON.parse(request.body).id === alice[0])).toBe(true);
  });

  it('gives an always failing event up as dead after the retry window, goes on, and delivers it again on replay', async () => {
    const { api, receiver: start, append } = await setup({ retryForMs: 600 });
    const receiver = await start();
    receiver.respond(() => 500);
    const { webhook } = await api.create({ url: receiver.url });
    const ids = await append('alice', 3);
    await eventually('three dead deliveries', async () => ((await api.deliveries(webhook.id, 'dead')).length === 3 ? true : undefined));
    const dead = await api.deliveries(webhook.id, 'dead');
    expect(dead.map((delivery) => delivery.eventId)).toEqual([...ids].reverse());
    expect(dead[0]).toMatchObject({ status: 'dead', lastStatusCode: 500, lastError: 'HTTP 500: receiver says no', nextAttemptAt: null });
    expect(dead[0]?.attempts).toBeGreaterThan(1);
    expect((await api.get(webhook.id)).status).toBe('failing');
    // Each event was tried only within its own window, in order: the second only once the first was dead.
    const order = receiver.requests.map((request) => JSON.parse(request.body).id as string);
    expect(inOrderWithoutGap(order, ids)).toBe(true);
    receiver.respond(() => 200);
    const [firstId] = ids;
    // Replay from before the first: all three again.
    const before = `${BigInt(firstId!.split('-')[0]!) - 1n}-0`;
    expect(await api.replay(webhook.id, 'alice', before)).toBe(3);
    await eventually('the replay', () => (receiver.delivered().length === 3 ? true : undefined));
    expect(receiver.delivered().map((frame) => frame.id)).toEqual(ids);
    expect((await api.deliveries(webhook.id, 'delivered')).map((delivery) => delivery.eventId)).toEqual([...ids].reverse());
    expect(await api.deliveries(webhook.id, 'dead')).toEqual([]);
    expect((await api.get(webhook.id)).status).toBe('active');
    // Replay from an id: only the events after it.
    expect(await api.replay(webhook.id, 'alice', ids[1]!)).toBe(1);
    await eventually('the second replay', () => (receiver.delivered().length === 4 ? true : undefined));
    expect(receiver.delivered().at(-1)?.id).toBe(ids[2]);
  });

  it('stops delivering to a deleted webhook at once, even mid-retry', async () => {
    const context = await setup();
    const { api, receiver: start, append, dispatcher } = context;
    const doomed = await start();
    const witness = await start();
    doomed.respond(() => 500);
    const { webhook } = await api.create({ url: doomed.url });
    await api.create({ url: witness.url });
    await append('alice', 2);
    await eventually('a few failed attempts', () => (doomed.requests.length >= 2 ? true : undefined));
    expect((await api.remove(webhook.id)).id).toBe(webhook.id);
    await expect(api.get(webhook.id)).rejects.toMatchObject({ code: 'WEBHOOK_NOT_FOUND' });
    await eventually('no pair of the deleted webhook running', () => (dispatcher.activePairs <= 1 ? true : undefined));
    const seen = doomed.requests.length;
    const later = await append('alice', 2);
    await eventually('the witness got the later events', () => (witness.delivered().some((frame) => frame.id === later[1]) ? true : undefined));
    expect(doomed.requests.length).toBe(seen);
    // What its loop wrote after the delete (the attempt under way recorded as failed) is gone with it.
    const { keys } = context;
    await eventually('nothing of the deleted webhook left in Redis', async () => {
      const left = await fixture.client().exists(
        keys.webhookFailing(webhook.id),
        keys.webhookDeliveries(webhook.id),
        ...(['all', 'delivered', 'failed', 'dead'] as const).map((status) => keys.webhookDeliveryIndex(webhook.id, status)),
      );
      const cursor = await fixture.client().hexists(keys.webhookCursors('alice'), webhook.id);
      return left === 0 && cursor === 0 ? true : undefined;
    });
  });

  it('refuses webhook URLs the guard refuses when private targets are not allowed', async () => {
    const redis = fixture.client();
    const store = new WebhookStore(redis, fixture.keys(), { allowPrivate: false });
    await expect(store.create({ url: 'http://example.com/hook' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(store.create({ url: 'https://127.0.0.1/hook' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(store.create({ url: 'https://169.254.169.254/latest/meta-data' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { fields: [{ path: 'url' }] },
    });
    await expect(store.create({ url: 'https://[fd00::1]/hook' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('answers NOT_FOUND and SESSION_NOT_FOUND for what does not exist, and never answers the secret again', async () => {
    const { api, receiver: start } = await setup();
    const receiver = await start();
    const { webhook } = await api.create({ url: receiver.url, description: 'crm' });
    expect(JSON.stringify(await api.get(webhook.id))).not.toContain('whsec_');
    await expect(api.get('wh_000000000000')).rejects.toMatchObject({ code: 'WEBHOOK_NOT_FOUND' });
    await expect(api.deliveries('wh_000000000000')).rejects.toMatchObject({ code: 'WEBHOOK_NOT_FOUND' });
    await expect(api.replay(webhook.id, 'nobody', '0-0')).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });
});
