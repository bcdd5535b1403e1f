/**
 * Issue 15's Redis stores against a real Redis (and, through test/cluster, a Redis Cluster): stored API keys (digests
 * only, revocation at once), session owners and the per-key session cap, Idempotency-Keys per key with their cap, and
 * the request limiter's windows (each with a TTL).
 */
import { describe, expect, it } from 'vitest';
import { RedisIdempotencyStore } from '../../functions/http/idempotency.js';
import { RedisRequestLimiter } from '../../functions/http/rate-limit.js';
import { ApiKeyStore, digestHexOf, runAs, SessionTenants } from '../../lib/api-keys.js';
import { useRedisServer } from '../support/redis.js';

const redis = useRedisServer();

describe('key stores', () => {
  it('keeps keys as digests, resolves them until revoked, and caps how many there are', async () => {
    const client = redis.client();
    const keys = redis.keys();
    const store = new ApiKeyStore(client, keys, { maxKeys: 2 });
    const made = await store.create('acme', 'tenant');
    expect(await store.resolve(made.secret)).toEqual({ keyId: made.key.id, scope: 'tenant' });
    expect(await store.resolve(`${made.secret}x`)).toBeNull();
    expect(await client.hget(keys.apiKeyDigests, digestHexOf(made.secret))).toBe(made.key.id);
    expect(JSON.stringify(await client.hgetall(keys.apiKeys))).not.toContain(made.secret);
    await store.create('other', 'admin');
    await expect(store.create('third', 'tenant')).rejects.toMatchObject({ code: 'LIMIT_REACHED', details: { limit: 2 } });
    expect((await store.list()).map((key) => key.name)).toEqual(['acme', 'other']);
    expect((await store.revoke(made.key.id)).id).toBe(made.key.id);
    expect(await store.resolve(made.secret)).toBeNull();
    await expect(store.revoke(made.key.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('records owners, caps sessions per key, and prunes entries of sessions that are gone', async () => {
    const client = redis.client();
    const keys = redis.keys();
    const tenants = new SessionTenants(client, keys);
    const exists = new Set<string>();
    const sessionExists = async (id: string) => exists.has(id);
    expect(await tenants.reserve('key_a', 's1', 2, sessionExists)).toBe(true);
    expect(await tenants.claim('s1', 'key_a', 10_000)).toBe('claimed');
    expect(await tenants.claim('s1', 'key_b', 10_000)).toBe('taken');
    await tenants.settle('s1', 'key_a', true);
    exists.add('s1');
    expect(await client.pttl(keys.sessionTenant('s1'))).toBe(-1);
    expect(await tenants.visibleTo({ keyId: 'key_a', scope: 'tenant' }, 's1')).toBe(true);
    expect(await tenants.visibleTo({ keyId: 'key_b', scope: 'tenant' }, 's1')).toBe(false);
    expect(await tenants.visibleTo({ keyId: 'cfg_x', scope: 'admin' }, 's1')).toBe(true);
    expect(await tenants.reserve('key_a', 's2', 2, sessionExists)).toBe(true);
    exists.add('s2');
    expect(await tenants.reserve('key_a', 's3', 2, sessionExists)).toBe(false);
    // s2's delete stopped half-way (the session is gone, its list entry is not): the cap prunes it.
    exists.delete('s2');
    expect(await tenants.reserve('key_a', 's3', 2, sessionExists)).toBe(true);
    expect((await client.zrange(keys.keySessions('key_a'), 0, -1)).sort()).toEqual(['s1', 's3']);
    // A failed create leaves nothing.
    expect(await tenants.claim('s3', 'key_a', 10_000)).toBe('claimed');
    await tenants.settle('s3', 'key_a', false);
    expect(await client.exists(keys.sessionTenant('s3'))).toBe(0);
    expect(await client.zscore(keys.keySessions('key_a'), 's3')).toBeNull();
    await tenants.forget('s1', 'key_a');
    expect(await client.exists(keys.sessionTenant('s1'))).toBe(0);
    expect(await client.zcard(keys.keySessions('key_a'))).toBe(0);
    // A delete of a tenant's session that ends while another tenant creates the same id keeps the newcomer's mark.
    await client.set(keys.sessionTenant('s4'), 'key_a');
    await client.zadd(keys.keySessions('key_a'), 1, 's4');
    const ownerBefore = await tenants.ownerOf('s4');
    await client.del(keys.sessionTenant('s4')); // the host removed the session…
    expect(await tenants.claim('s4', 'key_b', 10_000)).toBe('claimed'); // …and key_b's create began
    await tenants.forget('s4', ownerBefore);
    expect(await tenants.ownerOf('s4')).toBe('key_b');
    expect(await client.zscore(keys.keySessions('key_a'), 's4')).toBeNull();
  });

  it('scopes Idempotency-Keys per key and caps their records, every key with a TTL', async () => {
    const client = redis.client();
    const keys = redis.keys();
    const store = new RedisIdempotencyStore(client, keys, 3_600, 2);
    const run = (keyId: string, key: string, body: unknown) =>
      runAs({ keyId, scope: 'tenant' }, () => store.run('scope', key, body, async () => ({ status: 201, body: { by: keyId, key } }), 1_000));
    expect((await run('key_a', 'k1', { a: 1 })).body).toEqual({ by: 'key_a', key: 'k1' });
    expect((await run('key_b', 'k1', { b: 1 })).body).toEqual({ by: 'key_b', key: 'k1' });
    expect((await run('key_a', 'k1', { a: 1 })).body).toEqual({ by: 'key_a', key: 'k1' });
    await run('key_a', 'k2', { a: 2 });
    await expect(run('key_a', 'k3', { a: 3 })).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { limit: 2 } });
    expect(await client.zcard(keys.keyIdempotencyIndex('key_a'))).toBe(2);
    expect(await client.ttl(keys.keyIdempotencyIndex('key_a'))).toBeGreaterThan(3_500);
    expect(await client.ttl(keys.idempotency('key_a:scope', 'k1'))).toBeGreaterThan(3_500);
  });

  it('limits requests per key and wrong keys per address, with windows that expire', async () => {
    const client = redis.client();
    const keys = redis.keys();
    const limiter = new RedisRequestLimiter(client, keys, {
      tenantRate: { max: 3, windowMs: 60_000 },
      adminRate: { max: 0, windowMs: 60_000 },
      failedKeys: { max: 2, windowMs: 60_000 },
    });
    for (let index = 0; index < 3; index += 1) await limiter.take({ keyId: 'key_a', scope: 'tenant' });
    await expect(limiter.take({ keyId: 'key_a', scope: 'tenant' })).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    await limiter.take({ keyId: 'key_b', scope: 'tenant' });
    for (let index = 0; index < 10; index += 1) await limiter.take({ keyId: 'cfg_x', scope: 'admin' });
    await limiter.checkAddress('203.0.113.7');
    await limiter.failedKey('203.0.113.7');
    await limiter.failedKey('203.0.113.7');
    await expect(limiter.checkAddress('203.0.113.7')).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { limit: 2 } });
    await limiter.checkAddress('203.0.113.8');
    for (const key of [keys.keyRate('key_a'), keys.failedKeyChecks('203.0.113.7')]) expect(await client.pttl(key)).toBeGreaterThan(0);
  });
});
