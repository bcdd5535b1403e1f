/**
 * This host's place among the session hosts sharing one Redis: a heartbeat (a key with a TTL, and a score in the
 * hosts index) that tells callers it is alive and how loaded it is, and a periodic sweep that
 *   - adopts sessions whose owner's heartbeat has expired (a dead host's sessions come back on a live one), and
 *   - releases local sessions that another host has claimed meanwhile (after a long partition from Redis).
 */
import type { HostInfo } from '../contract/commands.js';
import type { RedisKeys } from '../contract/redis-keys.js';
import type { Logger } from '../lib/logger.js';
import type { Redis } from '../lib/redis.js';
import type { SessionManager } from './sessions/session-manager.js';

export interface HostRegistryOptions {
  redis: Redis;
  keys: RedisKeys;
  hostId: string;
  engine: string;
  heartbeatMs: number;
  hostTtlMs: number;
  sessions: SessionManager;
  logger: Logger;
  /** Sweep every this many heartbeats. */
  sweepEvery?: number;
}

export class HostRegistry {
  private readonly startedAt = new Date().toISOString();
  private timer: NodeJS.Timeout | undefined;
  private beats = 0;
  private sweeping = false;
  private sweepsStopped = false;
  private beating: Promise<void> = Promise.resolve();
  /** When the last heartbeat reached Redis (ms), for the health endpoint. */
  lastHeartbeatAt = 0;

  constructor(private readonly options: HostRegistryOptions) {}

  /**
   * Announces this host, then adopts every session that has no live owner (its own from before a restart too).
   * The heartbeat runs from the start: adopting many sessions can take longer than HOST_TTL_MS.
   */
  async start(): Promise<void> {
    await this.heartbeat();
    this.timer = setInterval(() => {
      this.beating = this.beat();
    }, this.options.heartbeatMs);
    await this.runSweep();
  }

  /** No more adoptions (shutdown): the heartbeat goes on until stop(). */
  stopSweeping(): void {
    this.sweepsStopped = true;
  }

  /** Stops the heartbeat and withdraws this host at once, so that others may adopt its sessions without waiting. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
    const { redis, keys, hostId } = this.options;
    await redis.multi().del(keys.host(hostId)).zrem(keys.hosts, hostId).exec();
  }

  private async beat(): Promise<void> {
    try {
      await this.heartbeat();
      this.beats += 1;
      if (this.beats % (this.options.sweepEvery ?? 5) === 0) void this.runSweep();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'heartbeat failed');
    }
  }

  private async heartbeat(): Promise<void> {
    const { redis, keys, hostId, hostTtlMs } = this.options;
    const now = Date.now();
    const info: HostInfo = {
      hostId,
      engine: this.options.engine,
      sessions: this.options.sessions.size,
      startedAt: this.startedAt,
      heartbeatAt: new Date(now).toISOString(),
    };
    await redis
      .multi()
      .set(keys.host(hostId), JSON.stringify(info), 'PX', hostTtlMs)
      .zadd(keys.hosts, now, hostId)
      // Hosts gone for an hour leave the index; their key expired long before.
      .zremrangebyscore(keys.hosts, '-inf', now - 3_600_000)
      .exec();
    this.lastHeartbeatAt = Date.now();
  }

  /** One sweep at a time, none once stopped; a sweep's failure is logged, never thrown. */
  private async runSweep(): Promise<void> {
    if (this.sweeping || this.sweepsStopped) return;
    this.sweeping = true;
    try {
      await this.sweep();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  private async sweep(): Promise<void> {
    const { redis, keys, hostId, sessions, logger } = this.options;
    const ids = await redis.zrange(keys.sessions, 0, -1);
    if (ids.length === 0) return;
    const owners = await redis.mget(ids.map((id) => keys.sessionOwner(id)));
    const ownerIds = [...new Set(owners.filter((owner): owner is string => typeof owner === 'string'))];
    const alive = new Set<string>();
    if (ownerIds.length > 0) {
      const hostKeys = await redis.mget(ownerIds.map((owner) => keys.host(owner)));
      ownerIds.forEach((owner, index) => {
        if (typeof hostKeys[index] === 'string') alive.add(owner);
      });
    }
    for (const [index, sessionId] of ids.entries()) {
      if (this.sweepsStopped) return;
      const owner = owners[index] ?? null;
      if (sessions.has(sessionId)) {
        if (owner !== null && owner !== hostId) await sessions.release(sessionId);
        continue;
      }
      if (owner === null || owner === hostId || !alive.has(owner)) {
        try {
          if (await sessions.adopt(sessionId)) logger.info({ sessionId, previousOwner: owner }, 'adopted a session');
        } catch (error) {
          logger.error({ err: error, sessionId }, 'could not adopt a session');
        }
      }
    }
  }
}
