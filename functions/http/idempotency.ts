/**
 * `Idempotency-Key` for POST routes that create something (a session, a sent message): the same key with the same
 * body answers the first response again, and the action runs once; the same key with another body is refused.
 * Two requests with one key at once: the second waits for the first's response (bounded), then answers it.
 *
 * In Redis: `idem:<key id>:<scope>:<key>` holds `{hash, state: "pending"}` while the first request runs, then
 * `{hash, state: "done", status, body}` for the configured TTL (24 h by default). Keys are scoped per API key (the
 * request's principal, lib/api-keys.ts): one key's Idempotency-Key never answers another's request. Each API key
 * may hold `maxRecordsPerKey` records at once (`{k:<key id>}:idempotency`, a sorted set of record → expiry, with a
 * TTL); one more answers 429 RATE_LIMITED until the oldest expires.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { httpStatusOf, ServiceError, type ErrorCode } from '../../contract/errors.js';
import type { RedisKeys } from '../../contract/redis-keys.js';
import { currentPrincipal } from '../../lib/api-keys.js';
import type { Redis } from '../../lib/redis.js';

export interface StoredResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface IdempotencyStore {
  /**
   * Runs `action` once per (scope, key) and stores what it answered; a repeat answers the stored response. When
   * `action` throws, nothing is stored and the key is free again, so the client may retry (see `answerOf`).
   */
  run(scope: string, key: string, request: unknown, action: () => Promise<StoredResponse>, waitMs: number): Promise<StoredResponse>;
}

/**
 * Runs a route's action for an idempotent request: a refusal that a retry would only repeat (a 4xx of the
 * contract) becomes a stored response; a failure worth retrying (TIMEOUT, 5xx, RATE_LIMITED) is thrown.
 */
export async function answerOf(action: () => Promise<StoredResponse>): Promise<StoredResponse> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof ServiceError && !retriableCodes.has(error.code)) {
      return { status: httpStatusOf(error.code), body: { error: error.toBody() } };
    }
    throw error;
  }
}

const retriableCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'TIMEOUT',
  'SESSION_HOST_UNAVAILABLE',
  'SERVICE_UNAVAILABLE',
  'INTERNAL',
  'WHATSAPP_UNREACHABLE',
  'RATE_LIMITED',
]);

export const idempotencyKeyPattern = /^[A-Za-z0-9_.:-]{1,128}$/;

const storedSchema = z.discriminatedUnion('state', [
  z.object({ state: z.literal('pending'), hash: z.string() }),
  z.object({
    state: z.literal('done'),
    hash: z.string(),
    status: z.number(),
    body: z.unknown(),
    headers: z.record(z.string(), z.string()).optional(),
  }),
]);

export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly ttlSeconds: number,
    /** Records one API key may hold at once (0: no cap). */
    private readonly maxRecordsPerKey = 0,
  ) {}

  async run(
    scope: string,
    key: string,
    request: unknown,
    action: () => Promise<StoredResponse>,
    waitMs: number,
  ): Promise<StoredResponse> {
    const owner = currentPrincipal()?.keyId;
    const redisKey = this.keys.idempotency(owner === undefined ? scope : `${owner}:${scope}`, key);
    const hash = createHash('sha256').update(JSON.stringify(request)).digest('hex');
    // The pending marker outlives the longest a request can take, so a crashed caller frees the key on its own.
    const pendingTtlMs = Math.max(waitMs * 2, 30_000);
    const counted = owner === undefined ? false : await this.count(owner, redisKey);
    const claimed = await this.redis.set(redisKey, JSON.stringify({ state: 'pending', hash }), 'PX', pendingTtlMs, 'NX');
    if (claimed === 'OK') {
      let response: StoredResponse;
      try {
        response = await action();
      } catch (error) {
        await this.redis.del(redisKey);
        if (counted && owner !== undefined) await this.redis.zrem(this.keys.keyIdempotencyIndex(owner), redisKey);
        throw error;
      }
      await this.redis.set(redisKey, JSON.stringify({ state: 'done', hash, ...response }), 'EX', this.ttlSeconds);
      return response;
    }
    const deadline = Date.now() + waitMs;
    for (;;) {
      const raw = await this.redis.get(redisKey);
      if (raw === null) {
        // The first request failed in a way that may be retried: this one takes its turn.
        return this.run(scope, key, request, action, Math.max(0, deadline - Date.now()));
      }
      const stored = storedSchema.parse(JSON.parse(raw));
      if (stored.hash !== hash) {
        throw new ServiceError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with another request body.', {
          details: { idempotencyKey: key },
        });
      }
      if (stored.state === 'done') {
        return { status: stored.status, body: stored.body, ...(stored.headers ? { headers: stored.headers } : {}) };
      }
      if (Date.now() >= deadline) {
        throw new ServiceError('IDEMPOTENCY_IN_PROGRESS', 'A request with this Idempotency-Key is still being handled; retry later.', {
          details: { idempotencyKey: key },
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /**
   * Counts a record against the API key's cap (one MULTI on its index: concurrent requests never pass the cap
   * together); true when newly counted, false when it was counted already (a repeat). RATE_LIMITED at the cap.
   */
  private async count(owner: string, redisKey: string): Promise<boolean> {
    if (this.maxRecordsPerKey === 0) return false;
    const index = this.keys.keyIdempotencyIndex(owner);
    const now = Date.now();
    const reply = await this.redis
      .multi()
      .zremrangebyscore(index, '-inf', now)
      .zadd(index, 'NX', now + this.ttlSeconds * 1_000, redisKey)
      .zcard(index)
      .pexpire(index, this.ttlSeconds * 1_000)
      .exec();
    const added = Number(reply?.[1]?.[1] ?? 0) === 1;
    if (!added || Number(reply?.[2]?.[1] ?? 0) <= this.maxRecordsPerKey) return added;
    await this.redis.zrem(index, redisKey);
    const oldest = await this.redis.zrange(index, 0, 0, 'WITHSCORES');
    const retryAfterSeconds = Math.max(1, Math.ceil((Number(oldest[1] ?? now + 1_000) - now) / 1_000));
    throw new ServiceError(
      'RATE_LIMITED',
      `This key holds ${this.maxRecordsPerKey} Idempotency-Key records already (they are kept ${this.ttlSeconds} s); retry later, or without an Idempotency-Key.`,
      { details: { retryAfterSeconds, limit: this.maxRecordsPerKey, cap: 'idempotencyRecordsPerKey' } },
    );
  }
}
