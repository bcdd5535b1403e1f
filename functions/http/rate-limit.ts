/**
 * A per-session send rate limit (WhatsApp bans accounts that flood): at most `max` sends per sliding window,
 * counted in a Redis sorted set so that every function instance shares one count. Over the limit: RATE_LIMITED
 * with the seconds until the oldest send leaves the window.
 */
import { randomUUID } from 'node:crypto';
import { ServiceError } from '../../contract/errors.js';
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
