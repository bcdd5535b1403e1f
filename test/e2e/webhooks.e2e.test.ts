/**
 * Webhooks against real processes: Redis, two session hosts (simulator engine) and a receiver on loopback run by the
 * test. The owning host is killed (-9) while a delivery is in flight; the host that adopts the session goes on from
 * the first event not yet delivered: every event arrives, in order of first arrival, duplicates allowed, no gap.
 *
 * Sessions are created and messages injected with the command bus (the protocol the REST routes use); webhooks are
 * registered, read, replayed and deleted through the REST routes, served by serverless offline.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys, type RedisKeys } from '../../contract/redis-keys.js';
import { simulatorControl } from '../../contract/simulator.js';
import { CommandBus } from '../../lib/command-bus.js';
import type { CreateWebhookBody, Delivery, DeliveryStatus, Webhook } from '../../contract/webhooks.js';
import { WebhookStore } from '../../lib/webhook-store.js';
import { temporaryDirectory, waitFor, type ManagedProcess } from '../../scripts/support/processes.js';
import { startRedisServer, type LocalRedis } from '../../scripts/support/redis-server.js';
import { startOffline, startSessionHost, type Offline } from '../../scripts/support/stack.js';
import { apiClient, type ApiClient } from '../support/http-client.js';
import { inOrderWithoutGap, startReceiver, type Receiver } from '../integration/webhook-receiver.js';
import { silentLogger } from '../support/redis.js';

let server: LocalRedis;
let redis: Redis;
let subscriber: Redis;
let keys: RedisKeys;
let bus: CommandBus;
let data: { path: string; remove: () => void };
const hosts = new Map<string, ManagedProcess>();
const receivers: Receiver[] = [];
const keyPrefix = `t${Math.random().toString(16).slice(2, 10)}`;

let offline: Offline;
const apiKey = `test-${Math.random().toString(16).slice(2)}`;

/** The webhook API as a client sees it: the REST routes, through serverless offline. */
let api: {
  create(body: CreateWebhookBody): Promise<{ webhook: Webhook; secret: string }>;
  get(webhookId: string): Promise<Webhook>;
  deliveries(webhookId: string, query: { status?: DeliveryStatus }): Promise<Delivery[]>;
  replay(webhookId: string, sessionId: string, after: string): Promise<number>;
  delete(webhookId: string): Promise<Webhook>;
};

/** The body of a REST answer with the expected status, or the test fails with what came instead. */
async function answered<T>(promise: Promise<{ status: number; body: unknown; text: string }>, status: number): Promise<T> {
  const response = await promise;
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${response.text}`);
  return response.body as T;
}

function restApi(client: ApiClient): typeof api {
  return {
    create: (body) => answered(client.request('POST', '/api/webhooks', { body }), 201),
    get: async (webhookId) => (await answered<{ webhook: Webhook }>(client.request('GET', `/api/webhooks/${webhookId}`), 200)).webhook,
    deliveries: async (webhookId, { status }) =>
      (
        await answered<{ deliveries: Delivery[] }>(
          client.request('GET', `/api/webhooks/${webhookId}/deliveries${status === undefined ? '' : `?status=${status}`}`),
          200,
        )
      ).deliveries,
    replay: async (webhookId, sessionId, after) =>
      (await answered<{ queued: number }>(client.request('POST', `/api/webhooks/${webhookId}/replay`, { body: { sessionId, after } }), 202)).queued,
    delete: async (webhookId) => (await answered<{ webhook: Webhook }>(client.request('DELETE', `/api/webhooks/${webhookId}`), 200)).webhook,
  };
}

const eventually = <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000) => waitFor(what, check, timeoutMs, 50);

async function startHost(hostId: string): Promise<ManagedProcess> {
  const host = await startSessionHost({
    redisUrl: server.url,
    keyPrefix,
    engine: 'simulator',
    hostId,
    dataDir: path.join(data.path, 'sessions'),
    // No WebSocket client here: the pusher has no one to post to.
    wsManagementEndpoint: 'http://127.0.0.1:9',
    env: {
      HOST_HEARTBEAT_MS: '500',
      HOST_TTL_MS: '1500',
      SIMULATOR_AUTO_SCAN_MS: '200',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_TIMEOUT_MS: '10000',
      // Short in tests: an event that keeps failing is dead after 2 s of retries.
      WEBHOOK_RETRY_FOR_MS: '2000',
    },
  });
  hosts.set(hostId, host);
  return host;
}

async function owner(sessionId: string): Promise<string | null> {
  return redis.get(keys.sessionOwner(sessionId));
}

async function status(sessionId: string): Promise<string | undefined> {
  const raw = await redis.get(keys.session(sessionId));
  return raw === null ? undefined : (JSON.parse(raw) as { status: string }).status;
}

async function createOn(hostId: string, sessionId: string): Promise<void> {
  await bus.request({ hostId, sessionId }, { type: 'create' }, 15_000);
  await eventually(`${sessionId} connected`, async () => ((await status(sessionId)) === 'connected' ? true : undefined));
}

/** An incoming message from outside the simulation, through whichever host owns the session now. */
async function incoming(sessionId: string, text: string): Promise<void> {
  await eventually(`${sessionId} to take a message`, async () => {
    const hostId = await owner(sessionId);
    if (hostId === null || (await status(sessionId)) !== 'connected') return undefined;
    try {
      await bus.request({ hostId, sessionId }, simulatorControl('incoming', { from: '4930123456', text }), 5_000);
      return true;
    } catch {
      return undefined; // adoption under way: try again
    }
  });
}

/** Every event id of the session's log after `after`, in order. */
async function logIds(sessionId: string, after: string): Promise<string[]> {
  const entries = await redis.xrange(keys.events(sessionId), `(${after}`, '+');
  return entries.map(([id]) => id);
}

async function receiver(): Promise<Receiver> {
  const started = await startReceiver();
  receivers.push(started);
  return started;
}

beforeAll(async () => {
  data = temporaryDirectory('wa-webhooks');
  mkdirSync(path.join(data.path, 'sessions'), { recursive: true });
  server = await startRedisServer();
  redis = new Redis(server.url);
  subscriber = new Redis(server.url);
  keys = redisKeys(keyPrefix);
  bus = new CommandBus({ redis, subscriber, keys, logger: silentLogger() });
  offline = await startOffline({ redisUrl: server.url, keyPrefix, engine: 'simulator', apiKeys: apiKey, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  api = restApi(apiClient(offline.httpUrl, apiKey));
  await startHost('host-a');
  await startHost('host-b');
});

afterAll(async () => {
  await Promise.all([...hosts.values()].map((host) => host.stop(10_000)));
  await offline?.process.stop(5_000);
  for (const started of receivers) await started.close();
  await bus?.close();
  redis?.disconnect();
  subscriber?.disconnect();
  await server?.stop();
  data?.remove();
});

describe('webhooks on real session hosts', () => {
  it('delivers signed frames of a real session, filtered by event name', async () => {
    await createOn('host-b', 'sig');
    const all = await receiver();
    const messagesOnly = await receiver();
    const { webhook, secret } = await api.create({ url: all.url, sessions: ['sig'] });
    await api.create({ url: messagesOnly.url, sessions: ['sig'], events: ['message'] });
    await incoming('sig', 'signed hello');
    const request = await eventually('the message on the receiver', async () =>
      all.requests.find((candidate) => (JSON.parse(candidate.body) as { event: string }).event === 'message'),
    );
    const headers = Object.fromEntries(['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => [name, String(request.headers[name])]));
    expect(new StandardWebhook(secret).verify(request.body, headers)).toMatchObject({ event: 'message', sessionId: 'sig', data: { body: 'signed hello' } });
    expect(() => new StandardWebhook(secret).verify(request.body.replace('signed', 'forged'), headers)).toThrow();
    await eventually('the message-only receiver', async () => (messagesOnly.delivered().length === 1 ? true : undefined));
    expect(messagesOnly.delivered()[0]).toMatchObject({ event: 'message', data: { body: 'signed hello' } });
    expect((await api.deliveries(webhook.id, { status: 'delivered' })).length).toBeGreaterThan(0);
  });

  it('loses nothing when the owning host is killed mid-delivery: the adopting host goes on from the cursor', async () => {
    await createOn('host-a', 'kill');
    const target = await receiver();
    // Deliver three, then hang: host-a is in the middle of a POST when it dies.
    target.respond(({ index }) => (index < 3 ? 200 : 'hang'));
    const { webhook } = await api.create({ url: target.url, sessions: ['kill'] });
    // Where the webhook starts in the session's log (stored with it; the REST answer does not show it).
    const stored = await new WebhookStore(redis, keys, { allowPrivate: true }).storedOne(webhook.id);
    for (let index = 0; index < 5; index += 1) await incoming('kill', `before ${index}`);
    await eventually('a delivery in flight', async () => (target.requests.some((request) => request.status === 0) ? true : undefined));
    expect(await owner('kill')).toBe('host-a');
    await hosts.get('host-a')!.kill();
    hosts.delete('host-a');
    target.respond(() => 200);
    await eventually('host-b to adopt the session', async () => ((await owner('kill')) === 'host-b' ? true : undefined));
    for (let index = 0; index < 3; index += 1) await incoming('kill', `after ${index}`);
    const expected = await logIds('kill', stored!.startAfter);
    expect(expected.length).toBeGreaterThanOrEqual(8);
    await eventually('every event on the receiver', async () => {
      const seen = new Set(target.delivered().map((frame) => frame.id));
      return expected.every((id) => seen.has(id)) ? true : undefined;
    });
    expect(inOrderWithoutGap(target.delivered().map((frame) => frame.id), expected)).toBe(true);
    const texts = target.delivered().flatMap((frame) => (frame.event === 'message' ? [(frame as unknown as { data: { body: string } }).data.body] : []));
    expect([...new Set(texts)]).toEqual(['before 0', 'before 1', 'before 2', 'before 3', 'before 4', 'after 0', 'after 1', 'after 2']);
  });

  it('gives up an always failing event as dead after the retry window, replays it on request, and stops once deleted', async () => {
    await createOn('host-b', 'dead');
    const target = await receiver();
    target.respond(() => 500);
    const { webhook } = await api.create({ url: target.url, sessions: ['dead'], events: ['message'] });
    await incoming('dead', 'never taken');
    const [dead] = await eventually('a dead delivery', async () => {
      const found = await api.deliveries(webhook.id, { status: 'dead' });
      return found.length > 0 ? found : undefined;
    });
    expect(dead).toMatchObject({ status: 'dead', event: 'message', sessionId: 'dead', lastStatusCode: 500, nextAttemptAt: null });
    expect((await api.get(webhook.id)).status).toBe('failing');
    target.respond(() => 200);
    const before = `${BigInt(dead!.eventId.split('-')[0]!) - 1n}-0`;
    expect(await api.replay(webhook.id, 'dead', before)).toBe(1);
    await eventually('the replayed event', async () => (target.delivered().some((frame) => frame.id === dead!.eventId) ? true : undefined));
    await eventually('the webhook active again', async () => ((await api.get(webhook.id)).status === 'active' ? true : undefined));
    // Deleted: later events go to a witness, not to it.
    const witness = await receiver();
    await api.create({ url: witness.url, sessions: ['dead'], events: ['message'] });
    await api.delete(webhook.id);
    const seen = target.requests.length;
    await incoming('dead', 'after delete');
    await eventually('the witness', async () => (witness.delivered().some((frame) => (frame as unknown as { data: { body: string } }).data.body === 'after delete') ? true : undefined));
    expect(target.requests.length).toBe(seen);
  });
});
