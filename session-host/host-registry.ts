/**
 * This host's place among the session hosts sharing one Redis: a heartbeat (a key with a TTL, and a score in the
 * hosts index) that tells callers it is alive and how loaded it is, and a periodic sweep that
 *   - adopts sessions whose owner's heartbeat has expired (a dead host's sessions come back on a live one), and
 *   - releases local sessions that another host has claimed meanwhile (after a long partition from Redis).
 *
 * One process per host id: before anything else a host takes the lease on its id (a random token, `SET NX PX`), and
 * every heartbeat renews it only while the token is still its own (host-heartbeat-3). A second process started under
 * the same id is refused; a host restarted after a kill -9 waits for the lease of its dead self to lapse (at most
 * HOST_TTL_MS). A host that finds its lease taken while running (it was paused longer than HOST_TTL_MS and another
 * process started under its id) is told so (`onLeaseLost`) and must stop running its sessions.
 *
 * A host that reports a problem (every command slot stuck) stops renewing its heartbeat, so that the others adopt
 * its sessions; its sweep then only releases what they took. It beats again once the problem is gone.
 */
import { randomUUID } from 'node:crypto';
import type { HostInfo } from '../contract/commands.js';
import type { RedisKeys } from '../contract/redis-keys.js';
import type { Logger } from '../lib/logger.js';
import type { Redis } from '../lib/redis.js';
import { hostHeartbeatScript, hostWithdrawScript } from '../lib/redis-scripts.js';
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
  /** The token this process holds the lease on its host id with (`acquireHostLease`). */
  leaseToken: string;
  /** Called once when another process holds the lease: this one must stop running its sessions. */
  onLeaseLost?: (holder: string | null) => void;
  /** Null while this host can work; else why not: the heartbeat is then withheld so that others adopt its sessions. */
  problem?: () => string | null;
}

/** The lease on a host id is held by another live process. */
export class HostIdInUseError extends Error {
  override readonly name = 'HostIdInUseError';
  constructor(
    readonly hostId: string,
    /** How long the lease has left unless its holder renews it (ms); -1 when it has no expiry. */
    readonly remainingMs: number,
    hostTtlMs: number,
  ) {
    super(
      `HOST_ID '${hostId}' is in use by another live session host: its lease is being renewed ` +
        `(${remainingMs >= 0 ? `${remainingMs} ms left on it` : 'it has no expiry'}; it frees at most HOST_TTL_MS = ${hostTtlMs} ms ` +
        `after that process stops). Refusing to start: stop the other process, or give this one another HOST_ID.`,
    );
  }
}

/**
 * Takes the lease on `hostId` for this process and returns its token. A lease held by another process is watched
 * until it lapses (a dead holder: a host restarted after a kill -9 waits at most HOST_TTL_MS) and taken then; a
 * lease that is renewed meanwhile (or outlives HOST_TTL_MS and a heartbeat) belongs to a live process: refused with
 * `HostIdInUseError`.
 */
export async function acquireHostLease(options: {
  redis: Redis;
  keys: RedisKeys;
  hostId: string;
  hostTtlMs: number;
  heartbeatMs: number;
  logger: Logger;
  now?: () => number;
}): Promise<string> {
  const { redis, keys, hostId, hostTtlMs, heartbeatMs, logger } = options;
  const now = options.now ?? Date.now;
  const token = randomUUID();
  const key = keys.hostLease(hostId);
  const giveUpAt = now() + hostTtlMs + heartbeatMs;
  const pollMs = Math.max(10, Math.min(100, Math.floor(heartbeatMs / 4)));
  let lastRemaining: number | undefined;
  let announced = false;
  for (;;) {
    if ((await redis.set(key, token, 'PX', hostTtlMs, 'NX')) === 'OK') return token;
    const remaining = await redis.pttl(key);
    if (remaining === -2) continue; // it lapsed between the two calls: try again at once
    // A lease without expiry, or one that grew since the last look (renewed), or outlived a whole TTL: a live holder.
    const renewed = lastRemaining !== undefined && remaining > lastRemaining;
    if (remaining === -1 || renewed || now() > giveUpAt) throw new HostIdInUseError(hostId, remaining, hostTtlMs);
    if (!announced) {
      logger.warn({ hostId, remainingMs: remaining }, 'the lease on this HOST_ID is held (a previous run that died?); waiting for it to lapse');
      announced = true;
    }
    lastRemaining = remaining;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, remaining + 1)));
  }
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
  /** Set when another process took the lease on this host id: nothing is written for this host any more. */
  leaseLost = false;
  /** The problem the heartbeat is withheld for, if any. */
  private withheldFor: string | null = null;

  constructor(private readonly options: HostRegistryOptions) {}

  /**
   * Announces this host, then adopts every session that has no live owner (its own from before a restart too).
   * The heartbeat runs from the start: adopting many sessions can take longer than HOST_TTL_MS.
   */
  async start(): Promise<void> {
    if (!(await this.heartbeat())) throw new HostIdInUseError(this.options.hostId, -1, this.options.hostTtlMs);
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
    if (this.leaseLost) return;
    const { redis, keys, hostId, leaseToken } = this.options;
    await hostWithdrawScript.run(redis, [keys.hostLease(hostId), keys.host(hostId), keys.hosts], [leaseToken, hostId]);
  }

  private async beat(): Promise<void> {
    if (this.leaseLost) return;
    const problem = this.options.problem?.() ?? null;
    if (problem !== null) {
      // Others take over this host's sessions once its heartbeat lapses; this host only lets go of what they took.
      if (this.withheldFor === null) this.options.logger.error({ problem }, 'unhealthy: withholding the heartbeat so that other hosts adopt the sessions');
      this.withheldFor = problem;
      this.beats += 1;
      if (this.beats % (this.options.sweepEvery ?? 5) === 0) void this.runSweep('release-only');
      return;
    }
    if (this.withheldFor !== null) this.options.logger.info('healthy again: resuming the heartbeat');
    this.withheldFor = null;
    try {
      if (!(await this.heartbeat())) return;
      this.beats += 1;
      if (this.beats % (this.options.sweepEvery ?? 5) === 0) void this.runSweep();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'heartbeat failed');
    }
  }

  /** false when another process holds the lease (then `onLeaseLost` has been called). */
  private async heartbeat(): Promise<boolean> {
    const { redis, keys, hostId, hostTtlMs, leaseToken } = this.options;
    const now = Date.now();
    const info: HostInfo = {
      hostId,
      engine: this.options.engine,
      sessions: this.options.sessions.size,
      startedAt: this.startedAt,
      heartbeatAt: new Date(now).toISOString(),
    };
    // Hosts gone for an hour leave the index; their key expired long before.
    const beat = await hostHeartbeatScript.run(
      redis,
      [keys.hostLease(hostId), keys.host(hostId), keys.hosts],
      [leaseToken, hostTtlMs, JSON.stringify(info), now, hostId, now - 3_600_000],
    );
    if (beat !== 1) {
      const wasRunning = this.timer !== undefined;
      if (!this.leaseLost) {
        this.leaseLost = true;
        clearInterval(this.timer);
        this.timer = undefined;
        this.sweepsStopped = true;
        const holder = await redis.get(keys.hostLease(hostId)).catch(() => null);
        this.options.logger.error({ hostId }, 'another process took the lease on this HOST_ID: this one stops running its sessions');
        // At start (the lease taken in the instant since it was acquired) the caller is told by start()'s error.
        if (wasRunning) this.options.onLeaseLost?.(holder);
      }
      return false;
    }
    this.lastHeartbeatAt = Date.now();
    return true;
  }

  /** Why the heartbeat is withheld, if it is. */
  get withheld(): string | null {
    return this.withheldFor;
  }

  /** One sweep at a time, none once stopped; a sweep's failure is logged, never thrown. */
  private async runSweep(mode: 'full' | 'release-only' = 'full'): Promise<void> {
    if (this.sweeping || this.sweepsStopped) return;
    this.sweeping = true;
    try {
      await this.sweep(mode);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  private async sweep(mode: 'full' | 'release-only'): Promise<void> {
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
      if (mode === 'full' && (owner === null || owner === hostId || !alive.has(owner))) {
        try {
          if (await sessions.adopt(sessionId)) logger.info({ sessionId, previousOwner: owner }, 'adopted a session');
        } catch (error) {
          logger.error({ err: error, sessionId }, 'could not adopt a session');
        }
      }
    }
  }
}
