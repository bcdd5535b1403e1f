/**
 * This host's place among the session hosts sharing one Redis: a heartbeat (a key with a TTL, and a score in the
 * hosts index) that tells callers it is alive and how loaded it is, and a periodic sweep that
 *   - adopts sessions whose owner's heartbeat has expired (a dead host's sessions come back on a live one), and
 *   - releases local sessions that another host has claimed meanwhile (after a long partition from Redis).
 *
 * One process per host id: before anything else a host takes the lease on its id (a random token, `SET NX PX`), and
 * every heartbeat renews it only while the token is still its own (host-heartbeat-2). A second process started under
 * the same id is refused; a host restarted after a kill -9 waits for the lease of its dead self to lapse (at most
 * HOST_TTL_MS). A host that finds its lease taken while running (it was paused longer than HOST_TTL_MS and another
 * process started under its id) is told so (`onLeaseLost`) and must stop running its sessions.
 *
 * A host that reports a problem (every command slot stuck) stops renewing its heartbeat, so that the others adopt
 * its sessions; its sweep then only releases what they took. It beats again once the problem is gone.
 *
 * Failover in seconds: every `watchMs` each host looks at which hosts are live (one ZRANGE and one MGET); a host
 * whose heartbeat key is gone (it withdrew at SIGTERM, or its TTL ran out after a kill -9) triggers a sweep at once,
 * and so does a withdrawal announced on the host-changes channel. After the sweep the gone host's inbox is handed
 * over (inbox-handover.ts): its waiting commands go to the sessions' new owners instead of timing out.
 *
 * Placement that spreads: a sweep adopts a gone host's sessions only up to this host's fair share (the sessions of
 * all hosts over the live hosts of its engine, rounded up), in random order, so the survivors split them; its own
 * sessions from before a restart it always takes back. And a host that holds more than its share by two or more
 * hands one idle session (no command queued, not starting) over per heartbeat, so a new or restarted host fills up
 * gradually.
 */
import { randomUUID } from 'node:crypto';
import type { HostInfo } from '../contract/commands.js';
import type { RedisKeys } from '../contract/redis-keys.js';
import type { Logger } from '../lib/logger.js';
import { getMany, type Redis } from '../lib/redis.js';
import { hostHeartbeatScript, hostWithdrawScript } from '../lib/redis-scripts.js';
import type { SessionDirectory } from '../lib/session-directory.js';
import { handOverInbox } from './inbox-handover.js';
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
  /** A connection of its own for the host-changes channel (it blocks in subscriber mode); none = watch only. */
  subscriber?: Redis;
  /** Finds a session's live owner, to hand over a gone host's inbox. */
  directory?: Pick<SessionDirectory, 'get'>;
  /** Whether a session has a command queued or running here: such a session is never moved. */
  isBusy?: (sessionId: string) => boolean;
  /** How often the live hosts are looked at (default: half a heartbeat, at most 1 s). */
  watchMs?: number;
}

/** Statuses a session may be moved in: never one that is starting (it would start twice over). */
const movableStatuses = ['connected', 'qr', 'disconnected', 'failed'] as const;

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
  private watcher: NodeJS.Timeout | undefined;
  /** Live hosts of this engine at the last look (this one included). */
  private knownLive = new Set<string>();
  private watching = false;
  /** A sweep was asked for while one ran: run another right after. */
  private sweepAgain = false;
  private currentSweep: Promise<void> | null = null;

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
    this.knownLive = await this.liveHosts();
    await this.runSweep();
    const { subscriber, keys } = this.options;
    if (subscriber !== undefined) {
      subscriber.on('message', (channel: string, goneHostId: string) => {
        // A host withdrew, or handed a session over: look at the hosts, and sweep either way (a handover leaves an
        // orphan without changing which hosts are live).
        if (channel === keys.hostChanges && goneHostId !== this.options.hostId) void this.look().then(() => (this.withheldFor === null ? this.requestSweep() : undefined));
      });
      await subscriber.subscribe(keys.hostChanges);
    }
    this.watcher = setInterval(() => void this.look(), this.options.watchMs ?? Math.min(1_000, Math.max(50, this.options.heartbeatMs / 2)));
    this.watcher.unref();
  }

  /** Hosts whose heartbeat key exists and that run this host's engine. */
  private async liveHosts(): Promise<Set<string>> {
    const { redis, keys, engine } = this.options;
    const hostIds = await redis.zrange(keys.hosts, 0, -1);
    const live = new Set<string>();
    if (hostIds.length === 0) return live;
    const infos = await getMany(redis, hostIds.map((hostId) => keys.host(hostId)));
    hostIds.forEach((hostId, index) => {
      const raw = infos[index];
      if (typeof raw !== 'string') return;
      try {
        if ((JSON.parse(raw) as { engine?: unknown }).engine === engine) live.add(hostId);
      } catch {
        // A host key that does not parse is no host of ours.
      }
    });
    return live;
  }

  /**
   * Looks at the live hosts: when one is gone, sweeps at once (adopting this host's share of its sessions), then
   * hands its inbox over; when one is new, the next heartbeats move sessions to it.
   */
  private async look(): Promise<void> {
    if (this.watching || this.sweepsStopped || this.withheldFor !== null) return;
    this.watching = true;
    try {
      const live = await this.liveHosts();
      const gone = [...this.knownLive].filter((hostId) => !live.has(hostId) && hostId !== this.options.hostId);
      const changed = gone.length > 0 || [...live].some((hostId) => !this.knownLive.has(hostId));
      this.knownLive = live;
      if (!changed) return;
      if (gone.length > 0) this.options.logger.info({ gone }, 'session hosts are gone: adopting a share of their sessions');
      await this.requestSweep();
      const { directory } = this.options;
      if (directory === undefined) return;
      for (const goneHostId of gone) {
        await handOverInbox(goneHostId, { redis: this.options.redis, keys: this.options.keys, directory, logger: this.options.logger });
      }
    } catch (error) {
      this.options.logger.warn({ err: error }, 'could not look at the live session hosts');
    } finally {
      this.watching = false;
    }
  }

  /** No more adoptions (shutdown): the heartbeat goes on until stop(). */
  stopSweeping(): void {
    this.sweepsStopped = true;
  }

  /** Stops the heartbeat and withdraws this host at once, so that others may adopt its sessions without waiting. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.watcher);
    this.timer = undefined;
    this.watcher = undefined;
    await this.beating;
    await this.options.subscriber?.unsubscribe().catch(() => undefined);
    if (this.leaseLost) return;
    const { redis, keys, hostId, leaseToken } = this.options;
    // The lease and host key are in the host's slot, the index in its own: withdraw, then leave the index (an entry
    // left behind by a crash in between names a host whose key is gone, which every reader skips).
    if ((await hostWithdrawScript.run(redis, [keys.hostLease(hostId), keys.host(hostId)], [leaseToken])) === 1) await redis.zrem(keys.hosts, hostId);
    // The others need not wait for their next look.
    await redis.publish(keys.hostChanges, hostId);
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
      else void this.rebalance();
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
      ...(Number.isFinite(this.options.sessions.maxSessions) ? { maxSessions: this.options.sessions.maxSessions } : {}),
      startedAt: this.startedAt,
      heartbeatAt: new Date(now).toISOString(),
      heartbeatAtMs: now,
    };
    // The lease and host key are in the host's hash slot (`{h:<id>}`), the hosts index in its own: the beat first,
    // then the index, only after a beat that counted. Readers go by the host key (the index only lists candidates),
    // so a crash between the two costs nothing: the key expires, the index entry ages out.
    const beat = await hostHeartbeatScript.run(redis, [keys.hostLease(hostId), keys.host(hostId)], [leaseToken, hostTtlMs, JSON.stringify(info)]);
    if (beat === 1) {
      // Hosts gone for an hour leave the index; their key expired long before. One key: MULTI is fine on a Cluster.
      await redis.multi().zadd(keys.hosts, now, hostId).zremrangebyscore(keys.hosts, '-inf', now - 3_600_000).exec();
    }
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

  /** A full sweep that begins after this call; resolves when it is done. */
  private async requestSweep(): Promise<void> {
    if (this.currentSweep !== null) {
      this.sweepAgain = true;
      await this.currentSweep;
    }
    await this.runSweep();
  }

  /** One sweep at a time, none once stopped; a sweep's failure is logged, never thrown. */
  private async runSweep(mode: 'full' | 'release-only' = 'full'): Promise<void> {
    if (this.sweeping || this.sweepsStopped) {
      if (this.sweeping) this.sweepAgain = true;
      return this.currentSweep ?? undefined;
    }
    this.sweeping = true;
    this.currentSweep = (async () => {
      try {
        do {
          this.sweepAgain = false;
          await this.sweep(mode);
        } while (this.sweepAgain && !this.sweepsStopped);
      } catch (error) {
        this.options.logger.warn({ err: error }, 'sweep failed');
      } finally {
        this.sweeping = false;
        this.currentSweep = null;
      }
    })();
    return this.currentSweep;
  }

  /** This host's fair share: every session over the live hosts of its engine, rounded up. */
  private async fairShare(): Promise<number> {
    const { redis, keys } = this.options;
    const [total, live] = await Promise.all([redis.zcard(keys.sessions), this.liveHosts()]);
    live.add(this.options.hostId);
    return Math.ceil(total / live.size);
  }

  /** Moves one idle session away when this host holds two or more above its share. */
  private async rebalance(): Promise<void> {
    const { sessions, isBusy, logger, redis, keys, hostId } = this.options;
    if (this.sweeping || this.sweepsStopped || this.withheldFor !== null || isBusy === undefined) return;
    try {
      const share = await this.fairShare();
      if (sessions.size < share + 2) return;
      const candidate = sessions.idsWithStatus(movableStatuses).find((sessionId) => !isBusy(sessionId));
      if (candidate === undefined) return;
      if (await sessions.handOver(candidate)) {
        logger.info({ sessionId: candidate, sessions: sessions.size, share }, 'moved a session to a less loaded host');
        await redis.publish(keys.hostChanges, hostId);
      }
    } catch (error) {
      logger.warn({ err: error }, 'could not rebalance');
    }
  }

  private async sweep(mode: 'full' | 'release-only'): Promise<void> {
    const { redis, keys, hostId, sessions, logger } = this.options;
    const ids = await redis.zrange(keys.sessions, 0, -1);
    if (ids.length === 0) return;
    // Orphans of other hosts are taken up to this host's share, in random order, so that survivors split them.
    let room = Math.max(0, (await this.fairShare()) - sessions.size);
    const owners = await getMany(redis, ids.map((id) => keys.sessionOwner(id)));
    const ownerIds = [...new Set(owners.filter((owner): owner is string => typeof owner === 'string'))];
    const alive = new Set<string>();
    if (ownerIds.length > 0) {
      const hostKeys = await getMany(redis, ownerIds.map((owner) => keys.host(owner)));
      ownerIds.forEach((owner, index) => {
        if (typeof hostKeys[index] === 'string') alive.add(owner);
      });
    }
    const order = ids
      .map((sessionId, index) => ({ sessionId, owner: owners[index] ?? null, key: Math.random() }))
      .sort((a, b) => a.key - b.key);
    for (const { sessionId, owner } of order) {
      if (this.sweepsStopped) return;
      if (sessions.has(sessionId)) {
        if (owner !== null && owner !== hostId) await sessions.release(sessionId);
        continue;
      }
      if (mode !== 'full') continue;
      const own = owner === hostId;
      if (!own && (owner !== null && alive.has(owner))) continue;
      if (!own && room <= 0) continue;
      try {
        if (await sessions.adopt(sessionId)) {
          if (!own) room -= 1;
          logger.info({ sessionId, previousOwner: owner }, 'adopted a session');
        } else if (own && sessions.full && (await sessions.relinquish(sessionId))) {
          // Ours from before a restart, but this host runs its most sessions now: another with room takes it.
          logger.warn({ sessionId, maxSessions: sessions.maxSessions }, 'full: gave up a session of this host to the others');
          await redis.publish(keys.hostChanges, hostId);
        }
      } catch (error) {
        logger.error({ err: error, sessionId }, 'could not adopt a session');
      }
    }
  }
}
