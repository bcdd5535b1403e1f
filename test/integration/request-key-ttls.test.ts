/**
 * Issue 15: every key that belongs to a request has a TTL. Idempotency records (pending and done) and the hosts'
 * send ledger are checked here against a real Redis; nothing is left without one after a request, a failed
 * request, or a send.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../contract/api.js';
import { RedisIdempotencyStore } from '../../functions/http/idempotency.js';
import { SendLedger } from '../../session-host/sessions/send-ledger.js';
import { useRedisServer } from '../support/redis.js';

const redis = useRedisServer();

async function keysWithoutTtl(prefix: string): Promise<string[]> {
  const client = redis.client();
  const keys = await client.keys(`${prefix}*`);
  const ttls = await Promise.all(keys.map((key) => client.ttl(key)));
  return keys.filter((_key, index) => ttls[index] === -1);
}

describe('TTLs of request keys', () => {
  it('idempotency records expire: while pending, once done, and nothing stays after a failure', async () => {
    const client = redis.client();
    const keys = redis.keys();
    const store = new RedisIdempotencyStore(client, keys, 3_600);
    let pendingTtlMs = -2;
    await store.run('scope', 'k1', { a: 1 }, async () => {
      pendingTtlMs = await client.pttl(keys.idempotency('scope', 'k1'));
      return { status: 201, body: { ok: true } };
    }, 1_000);
    expect(pendingTtlMs).toBeGreaterThan(0);
    const doneTtl = await client.ttl(keys.idempotency('scope', 'k1'));
    expect(doneTtl).toBeGreaterThan(3_500);
    expect(doneTtl).toBeLessThanOrEqual(3_600);
    await expect(store.run('scope', 'k2', { a: 2 }, async () => {
      throw new Error('boom');
    }, 1_000)).rejects.toThrow('boom');
    expect(await client.exists(keys.idempotency('scope', 'k2'))).toBe(0);
    expect(await keysWithoutTtl(keys.idempotency('', '').split(':')[0] ?? '')).toEqual([]);
  });

  it('the send ledger expires, started and recorded', async () => {
    const client = redis.client();
    const keys = redis.keys();
    const ledger = new SendLedger(client, keys, 600);
    const message = {
      id: 'm1', chatId: '15550100002@c.us', from: '15550100001@c.us', to: '15550100002@c.us', fromMe: true, type: 'chat',
      body: 'hi', timestamp: new Date().toISOString(), ack: 'sent',
    } as unknown as Message;
    await ledger.once('alice', 'k1', async () => {
      expect(await client.ttl(keys.sendLedger('alice', 'k1'))).toBeGreaterThan(0);
      return message;
    }).catch(() => undefined);
    const ttl = await client.ttl(keys.sendLedger('alice', 'k1'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600);
  });
});
