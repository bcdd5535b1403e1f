/** Idempotency, the send ledger and the rate limit against a real redis-server. */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../contract/api.js';
import { ServiceError, ValidationError } from '../../contract/errors.js';
import { answerOf, RedisIdempotencyStore } from '../../functions/http/idempotency.js';
import { RedisSendRateLimiter } from '../../functions/http/rate-limit.js';
import { SendLedger } from '../../session-host/sessions/send-ledger.js';
import { useRedisServer } from '../support/redis.js';

const redis = useRedisServer();

function message(body: string): Message {
  return { id: `true_1@c.us_${body}`, chatId: '1@c.us', from: '2@c.us', to: '1@c.us', fromMe: true, type: 'chat', body, timestamp: new Date().toISOString(), ack: 'sent', sender: { id: '2@c.us', lid: null, phone: '2' }, quotedMessageId: null, media: null, location: null };
}

describe('Idempotency-Key store', () => {
  it('runs the action once for concurrent and repeated requests, and answers all the same', async () => {
    const store = new RedisIdempotencyStore(redis.client(), redis.keys(), 3_600);
    let runs = 0;
    const action = async () => {
      runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { status: 201, body: { message: message('once') } };
    };
    const answers = await Promise.all(Array.from({ length: 5 }, () => store.run('send:a', 'key-1', { text: 'x' }, action, 2_000)));
    answers.push(await store.run('send:a', 'key-1', { text: 'x' }, action, 2_000));
    expect(runs).toBe(1);
    for (const answer of answers) expect(answer).toEqual(answers[0]);
  });

  it('refuses the same key with another body', async () => {
    const store = new RedisIdempotencyStore(redis.client(), redis.keys(), 3_600);
    await store.run('s', 'k', { text: 'a' }, async () => ({ status: 201, body: {} }), 1_000);
    await expect(store.run('s', 'k', { text: 'b' }, async () => ({ status: 201, body: {} }), 1_000)).rejects.toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
  });

  it('stores a refusal a retry would repeat, but frees the key after one worth retrying', async () => {
    const store = new RedisIdempotencyStore(redis.client(), redis.keys(), 3_600);
    const notConnected = () => answerOf(async () => {
      throw new ServiceError('SESSION_NOT_CONNECTED', 'no', { details: { status: 'qr' } });
    });
    const first = await store.run('s', 'refused', {}, notConnected, 1_000);
    expect(first.status).toBe(409);
    expect(await store.run('s', 'refused', {}, async () => ({ status: 201, body: {} }), 1_000)).toEqual(first);

    const timeout = () => answerOf(async () => {
      throw new ServiceError('TIMEOUT', 'late');
    });
    await expect(store.run('s', 'retry', {}, timeout, 1_000)).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(await store.run('s', 'retry', {}, async () => ({ status: 201, body: { ok: true } }), 1_000)).toEqual({ status: 201, body: { ok: true } });
  });

  it('keys are per scope: the same key on two sessions is two requests', async () => {
    const store = new RedisIdempotencyStore(redis.client(), redis.keys(), 3_600);
    const a = await store.run('send:a', 'k', { text: 'x' }, async () => ({ status: 201, body: { n: 1 } }), 1_000);
    const b = await store.run('send:b', 'k', { text: 'x' }, async () => ({ status: 201, body: { n: 2 } }), 1_000);
    expect(a.body).not.toEqual(b.body);
  });
});

describe('send ledger (at most once per key on the host)', () => {
  it('answers a repeat with the recorded message instead of sending again', async () => {
    const ledger = new SendLedger(redis.client(), redis.keys(), 3_600);
    let sends = 0;
    const send = async () => {
      sends += 1;
      return message('ledger');
    };
    const first = await ledger.once('alice', 'k1', send);
    const second = await ledger.once('alice', 'k1', send);
    expect(sends).toBe(1);
    expect(second).toEqual(first);
  });

  it('refuses to send again when a first attempt started and left no outcome (the host died mid-send)', async () => {
    const client = redis.client();
    const keys = redis.keys();
    await client.set(keys.sendLedger('alice', 'k2'), 'started');
    const ledger = new SendLedger(client, keys, 3_600);
    let sends = 0;
    await expect(
      ledger.once('alice', 'k2', async () => {
        sends += 1;
        return message('never');
      }),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_IN_PROGRESS' });
    expect(sends).toBe(0);
  });

  it('frees the key when the request itself was refused (nothing left), and keeps it when the outcome is unknown', async () => {
    const ledger = new SendLedger(redis.client(), redis.keys(), 3_600);
    await expect(
      ledger.once('alice', 'k3', async () => {
        throw new ValidationError([{ path: 'chatId', message: 'no such chat' }]);
      }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((await ledger.once('alice', 'k3', async () => message('later'))).body).toBe('later');
    // A quote the session does not know, an operation the engine lacks: refused before anything left.
    for (const code of ['MESSAGE_NOT_FOUND', 'NOT_SUPPORTED_BY_ENGINE'] as const) {
      await expect(
        ledger.once('alice', `refused-${code}`, async () => {
          throw new ServiceError(code, 'refused before sending');
        }),
      ).rejects.toMatchObject({ code });
      expect((await ledger.once('alice', `refused-${code}`, async () => message('later'))).body).toBe('later');
    }

    for (const code of ['TIMEOUT', 'SESSION_NOT_CONNECTED', 'INTERNAL'] as const) {
      await expect(
        ledger.once('alice', `unknown-${code}`, async () => {
          throw new ServiceError(code, 'the page went away after sending, or not');
        }),
      ).rejects.toMatchObject({ code });
      await expect(ledger.once('alice', `unknown-${code}`, async () => message('again'))).rejects.toMatchObject({
        code: 'IDEMPOTENCY_IN_PROGRESS',
      });
    }
  });
});

describe('send rate limit', () => {
  it('lets `max` sends through per window, then answers RATE_LIMITED with the seconds to wait', async () => {
    const limiter = new RedisSendRateLimiter(redis.client(), redis.keys(), { max: 3, windowMs: 2_000 });
    for (let index = 0; index < 3; index += 1) await limiter.take('alice');
    const error = (await limiter.take('alice').catch((caught: unknown) => caught)) as ServiceError;
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.details?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(error.details?.retryAfterSeconds).toBeLessThanOrEqual(2);
    // Another session has its own window.
    await limiter.take('bob');
  });

  it('lets sends through again once the window has moved on', async () => {
    const limiter = new RedisSendRateLimiter(redis.client(), redis.keys(), { max: 2, windowMs: 1_000 });
    await limiter.take('alice');
    await limiter.take('alice');
    await expect(limiter.take('alice')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    await limiter.take('alice');
  });

  it('is off with max 0', async () => {
    const limiter = new RedisSendRateLimiter(redis.client(), redis.keys(), { max: 0, windowMs: 1_000 });
    for (let index = 0; index < 50; index += 1) await limiter.take('alice');
  });
});
