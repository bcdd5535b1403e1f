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

/**
 * sliding-window-1: counts one event in a sliding window unless the window is full.
 *   KEYS[1] the window (zset of event ids scored by time)
 *   ARGV[1] now (ms)   ARGV[2] window (ms)   ARGV[3] max events   ARGV[4] a unique id for this event
 *   → 0 counted; otherwise the ms until the oldest event leaves the window
 */
const slidingWindowScript = new RedisScript(
  'sliding-window-1',
  1,
  `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return 0
`,
);

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
