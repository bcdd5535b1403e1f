/**
 * Issue 15: the WebSocket registry against a real Redis. Its sets are sorted sets scored by each connection's expiry:
 * a connection whose record expired before its `$disconnect` stops being a recipient at once and leaves no set behind;
 * a tenant's connections receive its own sessions only, also when a session id is made again by someone else; and a
 * connection holds at most its cap of subscriptions.
 */
import { describe, expect, it } from 'vitest';
import { connectionTtlSeconds, ConnectionRegistry } from '../../lib/ws-connections.js';
import { useRedisServer } from '../support/redis.js';

const redis = useRedisServer();

describe('WebSocket registry', () => {
  it('drops connections whose record expired without a $disconnect, and its sets expire with them', async () => {
    const client = redis.client();
    const keys = redis.keys();
    let now = Date.now();
    const registry = new ConnectionRegistry(client, keys, { now: () => now });
    await registry.register('all-1', null);
    await registry.register('sub-1', 's1');
    expect((await registry.recipients('s1')).sort()).toEqual(['all-1', 'sub-1']);
    for (const key of [keys.wsAdminUnfiltered, keys.wsFollowers('s1')]) {
      const ttl = await client.pttl(key);
      expect(ttl).toBeGreaterThan(connectionTtlSeconds * 1_000 - 5_000);
      expect(ttl).toBeLessThanOrEqual(connectionTtlSeconds * 1_000);
    }
    // Two hours later, no $disconnect came: nobody receives anything, and the entries are pruned on the way.
    now += connectionTtlSeconds * 1_000 + 1;
    expect(await registry.recipients('s1')).toEqual([]);
    expect(await client.zcard(keys.wsAdminUnfiltered)).toBe(0);
    expect(await client.zcard(keys.wsFollowers('s1'))).toBe(0);
  });

  it("keeps a tenant's connections to its own sessions, also when an id comes back under another owner", async () => {
    const client = redis.client();
    const keys = redis.keys();
    const registry = new ConnectionRegistry(client, keys);
    await client.set(keys.sessionTenant('a1'), 'key_a');
    await client.set(keys.sessionTenant('b1'), 'key_b');
    await registry.register('admin', null);
    await registry.register('a-all', null, { tenant: 'key_a' });
    await registry.register('b-all', null, { tenant: 'key_b' });
    await registry.register('a-sub', 'a1', { tenant: 'key_a' });
    expect((await registry.recipients('a1')).sort()).toEqual(['a-all', 'a-sub', 'admin']);
    expect((await registry.recipients('b1')).sort()).toEqual(['admin', 'b-all']);
    expect((await registry.recipients('nobody')).sort()).toEqual(['admin']);
    // a1 deleted and made again by tenant B: A's old subscription receives nothing of it.
    await client.set(keys.sessionTenant('a1'), 'key_b');
    expect((await registry.recipients('a1')).sort()).toEqual(['admin', 'b-all']);
    // Removed: gone from every set.
    await registry.remove('a-sub');
    expect(await client.zcard(keys.wsFollowers('a1'))).toBe(0);
  });

  it('caps the subscriptions of a connection, and a resume that would add one', async () => {
    const client = redis.client();
    const keys = redis.keys();
    const registry = new ConnectionRegistry(client, keys, { maxSubscriptions: 2 });
    await registry.register('c', null);
    expect(await registry.subscribe('c', 's1')).toBe(true);
    expect(await registry.subscribe('c', 's2')).toBe(true);
    expect(await registry.subscribe('c', 's2')).toBe(true); // again: no new one
    await expect(registry.subscribe('c', 's3')).rejects.toMatchObject({ code: 'LIMIT_REACHED', details: { limit: 2 } });
    await expect(registry.assertMayFollow('c', 's3')).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
    await registry.assertMayFollow('c', 's1');
    // Ten at once cannot pass the cap together.
    await registry.unsubscribe('c', 's2');
    await Promise.allSettled(Array.from({ length: 10 }, (_, index) => registry.subscribe('c', `x${index}`)));
    const subscriptions = (await client.hkeys(keys.wsConnection('c'))).filter((field) => field.startsWith('s:'));
    expect(subscriptions.length).toBeLessThanOrEqual(2);
    expect(await registry.subscribe('missing', 's1')).toBe(false);
  });
});
