/**
 * The steps that span hash slots, one by one on a real 3-node Redis Cluster, through the client lib/redis.ts makes
 * from a `?cluster=true` URL: reads of many slots, session creation and adoption (the owner's heartbeat is in the
 * host's slot), removal of an unowned session, placement, and the WebSocket registry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostInfo } from '../../contract/commands.js';
import { redisKeys } from '../../contract/redis-keys.js';
import { createRedis, getMany, isClusterUrl, isRedisUnavailableError, runEach, whenRedisReady, type Redis } from '../../lib/redis.js';
import { claimSession, createSession, readSession, removeSession } from '../../lib/redis-scripts.js';
import { SessionDirectory } from '../../lib/session-directory.js';
import { ConnectionRegistry } from '../../lib/ws-connections.js';
import { useRedisCluster } from '../support/redis.js';

const cluster = useRedisCluster();
let redis: Redis;

beforeAll(async () => {
  redis = createRedis(cluster().url, { name: 'test:steps', queueWhileOffline: false, commandTimeoutMs: 5_000, autoPipelining: true });
  await whenRedisReady(redis, 10_000);
});

afterAll(() => {
  redis?.disconnect();
});

function record(id: string): string {
  const at = new Date().toISOString();
  return JSON.stringify({ id, status: 'starting', engine: 'simulator', me: null, createdAt: at, updatedAt: at, lastError: null, qr: null });
}

async function beat(keys: ReturnType<typeof redisKeys>, hostId: string, sessions = 0): Promise<void> {
  const now = Date.now();
  const info: HostInfo = { hostId, engine: 'simulator', sessions, startedAt: new Date(now).toISOString(), heartbeatAt: new Date(now).toISOString(), heartbeatAtMs: now };
  await redis.set(keys.host(hostId), JSON.stringify(info), 'PX', 60_000);
  await redis.zadd(keys.hosts, now, hostId);
}

describe('steps across hash slots on a Redis Cluster', () => {
  it('is a Cluster client, and reads and writes keys of many slots in one call', async () => {
    expect(redis.isCluster).toBe(true);
    expect(isClusterUrl(cluster().url)).toBe(true);
    expect(isClusterUrl('rediss://user:secret@example.com:6379')).toBe(false);
    expect(isClusterUrl('redis://127.0.0.1:6379?cluster=false')).toBe(false);
    const keys = redisKeys('steps-many');
    const ids = Array.from({ length: 20 }, (_, index) => `m${index}`);
    await runEach(redis, ids.map((id) => ['set', keys.session(id), id]));
    expect(await getMany(redis, [...ids.map((id) => keys.session(id)), keys.session('none')])).toEqual([...ids, null]);
  });

  it('creates a session once, indexed with its first creation time', async () => {
    const keys = redisKeys('steps-create');
    expect(await createSession(redis, keys, 's1', record('s1'), 1_000, 'h1')).toBe(true);
    expect(await createSession(redis, keys, 's1', record('s1'), 2_000, 'h2')).toBe(false);
    expect(await redis.zscore(keys.sessions, 's1')).toBe('1000');
    expect(await redis.get(keys.sessionOwner('s1'))).toBe('h1');
  });

  it('adopts a session only from a dead owner, and one claimer wins', async () => {
    const keys = redisKeys('steps-claim');
    await createSession(redis, keys, 's1', record('s1'), 1_000, 'h1');
    await beat(keys, 'h1');
    expect(await claimSession(redis, keys, 's1', 'h2')).toBe('owned-elsewhere');
    expect(await claimSession(redis, keys, 's1', 'h1')).toBe('claimed');
    expect(await readSession(redis, keys, 's1')).toMatchObject({ owner: 'h1', ownerAlive: true });
    await redis.del(keys.host('h1'));
    // Two live hosts adopt the dead one's session at once: the second finds the first's claim (and heartbeat).
    await beat(keys, 'h2');
    await beat(keys, 'h3');
    const outcomes = await Promise.all(['h2', 'h3'].map((hostId) => claimSession(redis, keys, 's1', hostId)));
    expect(outcomes.sort()).toEqual(['claimed', 'owned-elsewhere']);
    const winner = await redis.get(keys.sessionOwner('s1'));
    expect(['h2', 'h3']).toContain(winner);
    expect(await claimSession(redis, keys, 'none', 'h2')).toBe('missing');
  });

  it('removes an unowned session, never one a live host holds', async () => {
    const keys = redisKeys('steps-remove');
    const directory = new SessionDirectory(redis, keys);
    await createSession(redis, keys, 's1', record('s1'), 1_000, 'h1');
    await redis.xadd(keys.events('s1'), '*', 'e', '{}');
    await beat(keys, 'h1');
    expect(await directory.removeUnowned('s1')).toEqual({ outcome: 'owned', hostId: 'h1' });
    await redis.del(keys.host('h1'));
    expect(await directory.removeUnowned('s1')).toMatchObject({ outcome: 'removed', record: { id: 's1' } });
    expect(await redis.exists(keys.session('s1'), keys.sessionOwner('s1'), keys.events('s1'))).toBe(0);
    expect(await redis.zscore(keys.sessions, 's1')).toBeNull();
    expect(await directory.removeUnowned('s1')).toEqual({ outcome: 'missing' });
    // Another owner since the read: nothing removed.
    await createSession(redis, keys, 's2', record('s2'), 1_000, 'h1');
    expect(await removeSession(redis, keys, 's2', 'h9')).toBe('owner-changed');
    expect(await redis.exists(keys.session('s2'))).toBe(1);
  });

  it('spreads placements made together over the live hosts of the engine', async () => {
    const keys = redisKeys('steps-place');
    const directory = new SessionDirectory(redis, keys);
    await beat(keys, 'h1');
    await beat(keys, 'h2');
    const placed = await Promise.all(Array.from({ length: 6 }, () => directory.placeSession('simulator')));
    expect(placed.filter((hostId) => hostId === 'h1')).toHaveLength(3);
    expect(placed.filter((hostId) => hostId === 'h2')).toHaveLength(3);
    expect(await directory.placeSession('webjs')).toBeNull();
    expect((await directory.liveHosts()).map((host) => host.hostId).sort()).toEqual(['h1', 'h2']);
  });

  it('fails fast, as unavailable, on a cluster none of whose nodes answers (the functions answer 503)', async () => {
    const away = createRedis('redis://127.0.0.1:1?cluster=true', { name: 'test:away', queueWhileOffline: false, connectTimeoutMs: 300 });
    away.on('error', () => undefined);
    try {
      await expect(whenRedisReady(away, 500)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      const error = await away.get('x').catch((caught: unknown) => caught);
      expect(isRedisUnavailableError(error)).toBe(true);
    } finally {
      away.disconnect();
    }
  });

  it('keeps the WebSocket registry in its one slot: register, subscribe, recipients, unsubscribe, remove', async () => {
    const keys = redisKeys('steps-ws');
    const registry = new ConnectionRegistry(redis, keys);
    await registry.register('c1', null);
    await registry.register('c2', 's1');
    expect((await registry.recipients('s1')).sort()).toEqual(['c1', 'c2']);
    expect(await registry.recipients('s2')).toEqual(['c1']);
    expect(await registry.unsubscribe('c2', 's1')).toBe(true);
    await registry.remove('c1');
    expect(await registry.recipients('s1')).toEqual(['c2']);
  });
});
