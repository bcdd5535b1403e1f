/**
 * The sessions index against a delete and a create of the same id that interleave (their steps are in different
 * slots on a Redis Cluster, so they can): the session made again stays listed, whatever the order.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from '../../lib/redis.js';
import { createSession, removeSession } from '../../lib/redis-scripts.js';
import { useRedisServer } from '../support/redis.js';

const redis = useRedisServer();

const recordOf = (id: string, createdAt: string) => JSON.stringify({ id, status: 'starting', engine: 'simulator', createdAt, updatedAt: createdAt, lastError: null, qr: null, me: null });

describe('sessions index', () => {
  it('keeps a session made again while the earlier one of its id was being removed', async () => {
    const client = redis.client();
    const keys = redis.keys();
    const first = '2026-01-01T00:00:00.000Z';
    expect(await createSession(client, keys, 'again', recordOf('again', first), Date.parse(first), 'host-a')).toBe(true);
    // The remove's index step runs right after a create of the same id wrote its record (between the remove's two
    // steps): a client that makes that create happen at that moment.
    const second = '2026-01-02T00:00:00.000Z';
    let interleaved = false;
    const racing = new Proxy(client, {
      get(target, property, receiver) {
        if (property === 'zrem' && !interleaved) {
          interleaved = true;
          return async (...args: Parameters<Redis['zrem']>) => {
            expect(await createSession(target, keys, 'again', recordOf('again', second), Date.parse(second), 'host-b')).toBe(true);
            return target.zrem(...args);
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Redis;
    expect(await removeSession(racing, keys, 'again')).toBe('removed');
    expect(interleaved).toBe(true);
    expect(await client.zrange(keys.sessions, 0, -1)).toEqual(['again']);
    expect(JSON.parse((await client.get(keys.session('again'))) ?? '{}').createdAt).toBe(second);
  });
});
