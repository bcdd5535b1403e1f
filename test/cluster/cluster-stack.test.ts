/**
 * The service on a real 3-node Redis Cluster: two session hosts (child processes, the simulator engine) and the REST
 * app in this process, every Redis client a Cluster client (REDIS_URL `?cluster=true`). A dozen sessions, whose keys
 * spread over the three nodes, are placed, scanned, message each other, are listed, restarted, deleted, and adopted
 * by the surviving host when the other is killed: every script and multi-key step runs on the cluster, so one that
 * crossed slots would fail here with CROSSSLOT.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chat, Message, Session } from '../../contract/api.js';
import { redisKeys, type RedisKeys } from '../../contract/redis-keys.js';
import { createApp } from '../../functions/http/app.js';
import { digestOfKey } from '../../functions/config.js';
import type { ApiDependencies } from '../../functions/http/dependencies.js';
import { RedisIdempotencyStore } from '../../functions/http/idempotency.js';
import { RedisSendRateLimiter } from '../../functions/http/rate-limit.js';
import { CommandBus } from '../../lib/command-bus.js';
import { createRedis, whenRedisReady, type Redis } from '../../lib/redis.js';
import { SessionDirectory } from '../../lib/session-directory.js';
import { WebhookStore } from '../../lib/webhook-store.js';
import { temporaryDirectory, type ManagedProcess } from '../../scripts/support/processes.js';
import { startSessionHost } from '../../scripts/support/stack.js';
import { eventually, sessionBecomes, type ApiClient } from '../support/http-client.js';
import { silentLogger, useRedisCluster } from '../support/redis.js';

const cluster = useRedisCluster();
const apiKey = `cluster-${randomBytes(8).toString('hex')}`;
const keyPrefix = `c${randomBytes(4).toString('hex')}`;
const keys: RedisKeys = redisKeys(keyPrefix);
const ids = Array.from({ length: 12 }, (_, index) => `cl-${index}`);
const phones = { 'cl-0': '15550100001', 'cl-1': '15550100002' } as const;

let data: { path: string; remove: () => void };
const hosts = new Map<string, ManagedProcess>();
const everyHost: ManagedProcess[] = [];
const connections: Redis[] = [];
let redis: Redis;
let bus: CommandBus;
let api: ApiClient;

beforeAll(async () => {
  data = temporaryDirectory('wa-cluster-data');
  const dataDir = path.join(data.path, 'sessions');
  mkdirSync(dataDir, { recursive: true });
  const url = cluster().url;
  // Two hosts at once: each waits for the cluster and announces itself.
  await Promise.all(
    ['host-a', 'host-b'].map(async (hostId) => {
      const host = await startSessionHost({
        redisUrl: url,
        keyPrefix,
        engine: 'simulator',
        hostId,
        dataDir,
        wsManagementEndpoint: 'http://127.0.0.1:9',
        readyTimeoutMs: 30_000,
        env: { HOST_HEARTBEAT_MS: '500', HOST_TTL_MS: '1500', SIMULATOR_READ_AFTER_MS: '200' },
      });
      hosts.set(hostId, host);
      everyHost.push(host);
    }),
  );
  redis = createRedis(url, { name: 'test:main', queueWhileOffline: false, commandTimeoutMs: 5_000, autoPipelining: true });
  const subscriber = createRedis(url, { name: 'test:replies', queueWhileOffline: false });
  connections.push(redis, subscriber);
  await whenRedisReady(redis, 10_000);
  const logger = silentLogger();
  bus = new CommandBus({ redis, subscriber, keys, logger, redisWaitMs: 10_000 });
  const deps: ApiDependencies = {
    config: { engine: 'simulator', apiKeyDigests: [digestOfKey(apiKey)], commandTimeoutMs: 10_000 },
    logger,
    ready: () => whenRedisReady(redis, 5_000),
    ping: async () => (await redis.ping()) === 'PONG',
    directory: new SessionDirectory(redis, keys),
    bus,
    idempotency: new RedisIdempotencyStore(redis, keys, 3_600),
    sendRateLimiter: new RedisSendRateLimiter(redis, keys, { max: 1_000, windowMs: 60_000 }),
    webhooks: new WebhookStore(redis, keys, { allowPrivate: true }),
  };
  const app = createApp(deps, { emitMetrics: null });
  api = {
    async request<T>(method: string, route: string, options: { body?: unknown } = {}) {
      const headers: Record<string, string> = { 'x-api-key': apiKey };
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      const response = await app.request(route, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
      const text = await response.text();
      const body = (response.headers.get('content-type') ?? '').includes('json') ? (JSON.parse(text) as T) : (text as T);
      return { status: response.status, headers: response.headers, body, text };
    },
  };
});

afterAll(async () => {
  await bus?.close();
  for (const connection of connections) connection.disconnect();
  await Promise.all([...hosts.values()].map((host) => host.stop(15_000)));
  data?.remove();
});

async function ownerOf(sessionId: string): Promise<string | null> {
  return redis.get(keys.sessionOwner(sessionId));
}

/** The nodes (by port) that serve `keys`: the master of each key's slot. */
async function nodesOf(keysToPlace: string[]): Promise<Set<number>> {
  const shards = (await redis.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
  const nodes = new Set<number>();
  for (const key of keysToPlace) {
    const slot = Number(await redis.call('CLUSTER', 'KEYSLOT', key));
    const shard = shards.find(([from, to]) => slot >= from && slot <= to);
    if (shard !== undefined) nodes.add(Number(shard[2][1]));
  }
  return nodes;
}

describe('the service on a 3-node Redis Cluster', () => {
  it('creates a dozen sessions whose keys live on every node, placed on both hosts', async () => {
    for (const id of ids) {
      const created = await api.request<{ session: Session }>('POST', '/api/sessions', { body: { sessionId: id } });
      expect(created.status).toBe(201);
    }
    expect((await nodesOf(ids.map((id) => keys.session(id)))).size).toBe(3);
    expect((await nodesOf(['host-a', 'host-b'].map((hostId) => keys.hostInbox(hostId)))).size).toBeGreaterThanOrEqual(1);
    const owners = await Promise.all(ids.map(ownerOf));
    expect(new Set(owners)).toEqual(new Set(['host-a', 'host-b']));
    for (const id of ids) await sessionBecomes(api, id, 'qr', 20_000);
    const again = await api.request<{ error: { code: string } }>('POST', '/api/sessions', { body: { sessionId: 'cl-0' } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('SESSION_EXISTS');
  });

  it('lists every session, with its live owner', async () => {
    const list = await api.request<{ sessions: Session[] }>('GET', '/api/sessions');
    expect(list.status).toBe(200);
    expect(list.body.sessions.map((session) => session.id).sort()).toEqual([...ids].sort());
    const one = await api.request<{ session: Session }>('GET', '/api/sessions/cl-5');
    expect(one.body.session).toMatchObject({ id: 'cl-5', status: 'qr' });
  });

  it('logs two sessions in by scan (a command routed to each owner) and refuses a message route before', async () => {
    const early = await api.request<{ error: { code: string; details: { status: string } } }>('POST', '/api/messages/cl-0/send', {
      body: { chatId: phones['cl-1'], text: 'too early' },
    });
    expect(early.status).toBe(409);
    expect(early.body.error).toMatchObject({ code: 'SESSION_NOT_CONNECTED', details: { status: 'qr' } });
    for (const [id, phone] of Object.entries(phones)) {
      const scan = await api.request('POST', `/api/simulator/sessions/${id}/scan`, { body: { phone } });
      expect(scan.status).toBe(202);
    }
    for (const id of Object.keys(phones)) await sessionBecomes(api, id, 'connected', 20_000);
  });

  it('sends from one to the other; the receiver gets the event and lists the message', async () => {
    const sent = await api.request<{ message: Message }>('POST', '/api/messages/cl-0/send', { body: { chatId: phones['cl-1'], text: 'over the cluster' } });
    expect(sent.status).toBe(201);
    expect(sent.body.message).toMatchObject({ fromMe: true, body: 'over the cluster', to: `${phones['cl-1']}@c.us` });
    // The event, in the receiver's log on whichever node holds its slot.
    await eventually('the message event in the receiver log', async () => {
      const entries = await redis.xrange(keys.events('cl-1'), '-', '+');
      return entries.some(([, fields]) => fields[1]?.includes('over the cluster') === true && fields[1].includes('"event":"message"')) ? true : undefined;
    });
    const chat = await eventually('the chat on the receiver', async () => {
      const chats = await api.request<{ chats: Chat[] }>('GET', '/api/messages/cl-1/chats');
      return chats.body.chats?.find((candidate) => candidate.lastMessage?.body === 'over the cluster');
    });
    const history = await api.request<{ messages: Message[] }>('GET', `/api/messages/cl-1/chat/${encodeURIComponent(chat.id)}?limit=10`);
    expect(history.status).toBe(200);
    expect(history.body.messages.map((message) => message.body)).toContain('over the cluster');
    // The sender's ack moves on: the receiver's host delivered through the simulated mailbox ({sim} slot).
    await eventually('the ack', async () => {
      const own = await api.request<{ messages: Message[] }>('GET', `/api/messages/cl-0/chat/${phones['cl-1']}@c.us?limit=10`);
      const message = own.body.messages?.find((candidate) => candidate.body === 'over the cluster');
      return message !== undefined && ['delivered', 'read'].includes(message.ack) ? true : undefined;
    });
  });

  it('restarts a session: connected again without a scan', async () => {
    const restarted = await api.request<{ session: Session }>('POST', '/api/sessions/cl-0/restart');
    expect(restarted.status).toBe(202);
    await sessionBecomes(api, 'cl-0', 'connected', 20_000);
  });

  it('deletes a session: gone from the record, the index and the list', async () => {
    const deleted = await api.request<{ session: Session }>('DELETE', '/api/sessions/cl-11');
    expect(deleted.status).toBe(200);
    expect(deleted.body.session.id).toBe('cl-11');
    expect((await api.request('GET', '/api/sessions/cl-11')).status).toBe(404);
    expect(await redis.zscore(keys.sessions, 'cl-11')).toBeNull();
    expect(await redis.exists(keys.session('cl-11'), keys.sessionOwner('cl-11'))).toBe(0);
    const list = await api.request<{ sessions: Session[] }>('GET', '/api/sessions');
    expect(list.body.sessions).toHaveLength(ids.length - 1);
  });

  it('adopts a killed host\'s sessions on the other; they come back connected and take commands', async () => {
    const owners = await Promise.all(ids.slice(0, 11).map(ownerOf));
    const victim = owners[0] === 'host-a' ? 'host-a' : 'host-b';
    const survivor = victim === 'host-a' ? 'host-b' : 'host-a';
    const orphans = ids.slice(0, 11).filter((_, index) => owners[index] === victim);
    expect(orphans).toContain('cl-0');
    await hosts.get(victim)?.kill();
    hosts.delete(victim);
    for (const id of orphans) await eventually(`${id} adopted`, async () => ((await ownerOf(id)) === survivor ? true : undefined), 20_000);
    await sessionBecomes(api, 'cl-0', 'connected', 20_000);
    const sent = await api.request<{ message: Message }>('POST', '/api/messages/cl-0/send', { body: { chatId: phones['cl-1'], text: 'after adoption' } });
    expect(sent.status).toBe(201);
    const hostsLeft = await redis.zrange(keys.hosts, 0, -1);
    expect(hostsLeft).toContain(survivor);
  });

  it('withdraws a host stopped with SIGTERM: its heartbeat key and its index entry go', async () => {
    const [hostId, host] = [...hosts.entries()][0] ?? [];
    if (hostId === undefined || host === undefined) throw new Error('no host left');
    expect(await redis.exists(keys.host(hostId))).toBe(1);
    await host.stop(15_000);
    hosts.delete(hostId);
    expect(await redis.exists(keys.host(hostId), keys.hostLease(hostId))).toBe(0);
    expect(await redis.zscore(keys.hosts, hostId)).toBeNull();
  });

  it('logged no cross-slot refusal on any host', () => {
    for (const host of everyHost) expect(host.output()).not.toMatch(/CROSSSLOT|same slot|MOVED|Possible CROSSSLOT/);
  });
});
