/**
 * Rate limits. A per-session send rate limit (WhatsApp bans accounts that flood): at most `max` sends per sliding window,
 * counted in a Redis sorted set so that every function instance shares one count. Over the limit: RATE_LIMITED
 * with the seconds until the oldest send leaves the window.
 */
import { randomUUID } from 'node:crypto';
import { ServiceError, SessionNotFoundError } from '../../contract/errors.js';
import { currentPrincipal, tenantOf } from '../../lib/api-keys.js';
import type { RedisKeys } from '../../contract/redis-keys.js';
import type { Redis } from '../../lib/redis.js';
import { RedisScript } from '../../lib/redis-scripts.js';

export interface SendRateLimiter {
  /** Counts one send of `sessionId`, or throws RATE_LIMITED. */
  take(sessionId: string): Promise<void>;
}

/** sliding-window-1: counts one event in a sliding window unless the window is full. (lib/lua/sliding-window-1.lua) */
const slidingWindowScript = new RedisScript('sliding-window-1');

export class RedisSendRateLimiter implements SendRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly limit: { max: number; windowMs: number },
  ) {}

  async take(sessionId: string): Promise<void> {
    // A tenant key never counts against (nor learns of) another tenant's session: SESSION_NOT_FOUND before anything.
    const tenant = tenantOf(currentPrincipal());
    if (tenant !== null && (await this.redis.get(this.keys.sessionTenant(sessionId))) !== tenant) throw new SessionNotFoundError(sessionId);
    if (this.limit.max === 0) return;
    const waitMs = await slidingWindowScript.run(
      this.redis,
      [this.keys.sendRate(sessionId)],
      [Date.now(), this.limit.windowMs, this.limit.max, randomUUID()],
    );
    if (typeof waitMs === 'number' && waitMs > 0) {
      const retryAfterSeconds = Math.ceil(waitMs / 1000);
      throw new ServiceError(
        'RATE_LIMITED',
        `Session '${sessionId}' may send at most ${this.limit.max} messages per ${this.limit.windowMs / 1000} s.`,
        { details: { retryAfterSeconds, limit: this.limit.max, windowSeconds: this.limit.windowMs / 1000 } },
      );
    }
  }
}

/** Per-key request limits on every route, and the limit on wrong keys per client address (docs/api.md "Limits"). */
export interface RequestLimiter {
  /** Throws RATE_LIMITED when `address` presented too many wrong keys within the window (checked before the key). */
  checkAddress(address: string): Promise<void>;
  /** Counts one wrong key presented from `address`. */
  failedKey(address: string): Promise<void>;
  /** Counts one request of the key, or throws RATE_LIMITED. */
  take(principal: { keyId: string; scope: 'admin' | 'tenant' }): Promise<void>;
}

export interface RequestLimits {
  tenantRate: { max: number; windowMs: number };
  adminRate: { max: number; windowMs: number };
  failedKeys: { max: number; windowMs: number };
}

export class RedisRequestLimiter implements RequestLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly limits: RequestLimits,
    private readonly now: () => number = Date.now,
  ) {}

  async checkAddress(address: string): Promise<void> {
    const { max, windowMs } = this.limits.failedKeys;
    if (max === 0) return;
    const key = this.keys.failedKeyChecks(address);
    const now = this.now();
    const reply = await this.redis.multi().zremrangebyscore(key, '-inf', now - windowMs).zcard(key).zrange(key, 0, 0, 'WITHSCORES').exec();
    const count = Number(reply?.[1]?.[1] ?? 0);
    if (count < max) return;
    const oldest = Number((reply?.[2]?.[1] as string[] | undefined)?.[1] ?? now);
    const retryAfterSeconds = Math.max(1, Math.ceil((oldest + windowMs - now) / 1000));
    throw new ServiceError('RATE_LIMITED', `Too many wrong API keys from this address: at most ${max} per ${windowMs / 1000} s.`, {
      details: { retryAfterSeconds, limit: max, cap: 'failedKeys', windowSeconds: windowMs / 1000 },
    });
  }

  async failedKey(address: string): Promise<void> {
    const { max, windowMs } = this.limits.failedKeys;
    if (max === 0) return;
    const key = this.keys.failedKeyChecks(address);
    await this.redis.multi().zadd(key, this.now(), randomUUID()).pexpire(key, windowMs).zremrangebyrank(key, 0, -max - 2).exec();
  }

  async take(principal: { keyId: string; scope: 'admin' | 'tenant' }): Promise<void> {
    const { max, windowMs } = principal.scope === 'admin' ? this.limits.adminRate : this.limits.tenantRate;
    if (max === 0) return;
    const waitMs = await slidingWindowScript.run(this.redis, [this.keys.keyRate(principal.keyId)], [this.now(), windowMs, max, randomUUID()]);
    if (typeof waitMs === 'number' && waitMs > 0) {
      const retryAfterSeconds = Math.ceil(waitMs / 1000);
      throw new ServiceError('RATE_LIMITED', `This key may make at most ${max} requests per ${windowMs / 1000} s.`, {
        details: { retryAfterSeconds, limit: max, cap: 'requestsPerKey', windowSeconds: windowMs / 1000 },
      });
    }
  }
}
