/**
 * Placement and failover with three hosts: sixty sessions created at once land evenly (a placement counts at once,
 * not only when the next heartbeats report it); when a host dies its sessions spread over all the survivors; a new
 * host fills up gradually; and commands waiting in a killed host's inbox are handed to the new owner instead of
 * timing out.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceError } from '../../contract/errors.js';
import { redisKeys } from '../../contract/redis-keys.js';
import { CommandBus } from '../../lib/command-bus.js';
import type { Message } from '../../contract/api.js';
import { eventually, sessionBecomes } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { silentLogger } from '../support/redis.js';

let stack: TestStack;
let redis: Redis;

beforeAll(async () => {
  stack = await startTestStack({ hosts: 0 });
  for (const hostId of ['host-a', 'host-b', 'host-c']) await stack.startHost(hostId);
  redis = new Redis(stack.redis.url);
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

async function owners(ids: string[]): Promise<Map<string, number>> {
  const keys = redisKeys(stack.keyPrefix);
  const counts = new Map<string, number>();
  for (const owner of await redis.mget(ids.map((id) => keys.sessionOwner(id)))) {
    counts.set(String(owner), (counts.get(String(owner)) ?? 0) + 1);
  }
  return counts;
}

/** Creates the sessions, eight requests at a time. */
async function createAll(ids: string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const sessionId = ids[next];
      next += 1;
      const created = await stack.api.request('POST', '/api/sessions', { body: { sessionId } });
      expect(created.status, created.text).toBe(201);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

describe('placement', () => {
  it('spreads sixty quick creates evenly over three hosts', async () => {
    const ids = Array.from({ length: 60 }, (_, index) => `spread-${index}`);
    await createAll(ids);
    const counts = await owners(ids);
    expect([...counts.keys()].sort()).toEqual(['host-a', 'host-b', 'host-c']);
    for (const [host, count] of counts) expect(count, `${host} has ${count}`).toBeGreaterThanOrEqual(18);
  });

  it('spreads a dead host’s sessions over all the survivors', async () => {
    const ids = Array.from({ length: 30 }, (_, index) => `adopt-${index}`);
    await createAll(ids);
    const before = await owners(ids);
    const orphans = before.get('host-c') ?? 0;
    expect(orphans).toBeGreaterThan(4);
    const hostC = stack.hosts.find((host) => host.name === 'session-host:host-c');
    await hostC?.kill();
    const after = await eventually(
      'host-c’s sessions adopted',
      async () => {
        const counts = await owners(ids);
        return (counts.get('host-a') ?? 0) + (counts.get('host-b') ?? 0) === ids.length ? counts : undefined;
      },
      30_000,
    );
    // Each survivor took a share of the orphans, not one of them all.
    expect((after.get('host-a') ?? 0) - (before.get('host-a') ?? 0)).toBeGreaterThan(0);
    expect((after.get('host-b') ?? 0) - (before.get('host-b') ?? 0)).toBeGreaterThan(0);
  });

  it('moves idle sessions to a new host, gradually, losing none', async () => {
    const ids = Array.from({ length: 12 }, (_, index) => `rebalance-${index}`);
    await createAll(ids);
    const newHost = `host-new-${Date.now()}`;
    await stack.startHost(newHost);
    const counts = await eventually(
      'the new host to receive sessions',
      async () => {
        const all = await redis.zrange(redisKeys(stack.keyPrefix).sessions, 0, -1);
        const owned = await owners(all);
        return (owned.get(newHost) ?? 0) >= 2 ? owned : undefined;
      },
      30_000,
    );
    expect(counts.get(newHost)).toBeGreaterThanOrEqual(2);
    // Every session still has a live owner (eventually: one may be between two hosts right now).
    await eventually('every session owned by a live host', async () => {
      const all = await redis.zrange(redisKeys(stack.keyPrefix).sessions, 0, -1);
      const keys = redisKeys(stack.keyPrefix);
      const ownerIds = await redis.mget(all.map((id) => keys.sessionOwner(id)));
      const hostKeys = await redis.mget(ownerIds.map((owner) => keys.host(String(owner))));
      return hostKeys.every((info) => info !== null) ? true : undefined;
    }, 30_000);
  });

  it('hands the commands waiting in a killed host’s inbox to the new owner: answered, not timed out', async () => {
    const hostId = `host-doomed-${Date.now()}`;
    await stack.startHost(hostId);
    // A session of its own: the least loaded host takes the next create, but the others may be as empty; retry.
    let sessionId: string | undefined;
    for (let attempt = 0; attempt < 30 && sessionId === undefined; attempt += 1) {
      const candidate = `doomed-${attempt}`;
      expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId: candidate } })).status).toBe(201);
      if ((await redis.get(redisKeys(stack.keyPrefix).sessionOwner(candidate))) === hostId) sessionId = candidate;
    }
    expect(sessionId).toBeDefined();
    if (sessionId === undefined) return;
    await sessionBecomes(stack.api, sessionId, 'qr');
    expect((await stack.api.request('POST', `/api/simulator/sessions/${sessionId}/scan`, { body: {} })).status).toBe(202);
    await sessionBecomes(stack.api, sessionId, 'connected');
    await stack.hosts.find((host) => host.name === `session-host:${hostId}`)?.kill();
    // Until its heartbeat runs out the dead host still looks alive: these sends wait in its inbox.
    const sends = await Promise.all(
      Array.from({ length: 4 }, (_, index) =>
        stack.api.request<{ message: Message }>('POST', `/api/messages/${sessionId}/send`, { body: { chatId: '4930123456', text: `queued ${index}` } }),
      ),
    );
    // Each is answered (never a 504 for waiting on the dead host): sent by the new owner (201), refused while no host
    // had the session (503), or refused as the contract says for a session that is still starting there (409).
    for (const send of sends) {
      expect([201, 503, 409], send.text).toContain(send.status);
      if (send.status === 409) expect(send.text).toMatch(/"status":"(starting|authenticated)"/);
    }
    await sessionBecomes(stack.api, sessionId, 'connected', 30_000);
  });

  it('a host restarted under its old HOST_ID answers commands for a session another host took with 503, never 404', async () => {
    const hostId = `host-returning-${Date.now()}`;
    await stack.startHost(hostId);
    let sessionId: string | undefined;
    for (let attempt = 0; attempt < 30 && sessionId === undefined; attempt += 1) {
      const candidate = `returning-${attempt}`;
      expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId: candidate } })).status).toBe(201);
      if ((await redis.get(redisKeys(stack.keyPrefix).sessionOwner(candidate))) === hostId) sessionId = candidate;
    }
    if (sessionId === undefined) throw new Error('no session landed on the host under test');
    const target = sessionId;
    await stack.hosts.find((host) => host.name === `session-host:${hostId}`)?.kill();
    await eventually('the session adopted elsewhere', async () => {
      const owner = await redis.get(redisKeys(stack.keyPrefix).sessionOwner(target));
      return owner !== null && owner !== hostId ? true : undefined;
    }, 30_000);
    // The same HOST_ID comes back (its lease lapsed); a command addressed to it, as a caller that read the old owner
    // would send, finds the session gone elsewhere.
    await stack.startHost(hostId);
    const subscriber = new Redis(stack.redis.url);
    const bus = new CommandBus({ redis, subscriber, keys: redisKeys(stack.keyPrefix), logger: silentLogger() });
    try {
      const answer = await bus.request({ hostId, sessionId: target }, { type: 'chats' }, 15_000).catch((error: unknown) => error);
      // Either the session moved back to this host by rebalancing (then it answers), or it is elsewhere: 503.
      if (answer instanceof ServiceError) expect(answer.code).toBe('SESSION_HOST_UNAVAILABLE');
      else expect(answer).toMatchObject({ chats: expect.any(Array) });
    } finally {
      await bus.close();
      subscriber.disconnect();
    }
  });
});
