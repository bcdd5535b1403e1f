/** Credentials on a Redis Cluster: REDIS_URL's password reaches every node; a wrong one is said at once. */
import { describe, expect, it } from 'vitest';
import { createRedis, RedisAuthError, whenRedisReady } from '../../lib/redis.js';
import { useRedisCluster } from '../support/redis.js';

const cluster = useRedisCluster({ password: 'cluster-secret' });

describe('a Redis Cluster that asks for a password', () => {
  it('serves a client whose URL has it, on every node', async () => {
    const redis = createRedis(cluster().url, { name: 'test:auth', queueWhileOffline: false, autoPipelining: true });
    try {
      await whenRedisReady(redis, 10_000);
      await Promise.all(Array.from({ length: 12 }, (_, index) => redis.set(`auth:{k${index}}`, String(index))));
      expect(await redis.get('auth:{k7}')).toBe('7');
    } finally {
      redis.disconnect();
    }
  });

  it('refuses a wrong password at once, as an auth error', async () => {
    const url = cluster().url.replace('cluster-secret', 'wrong');
    const redis = createRedis(url, { name: 'test:wrong', queueWhileOffline: false });
    redis.on('error', () => undefined);
    try {
      // Not the SERVICE_UNAVAILABLE of a wait that ran out: the refusal itself.
      await expect(whenRedisReady(redis, 8_000)).rejects.toBeInstanceOf(RedisAuthError);
    } finally {
      redis.disconnect();
    }
  });
});
