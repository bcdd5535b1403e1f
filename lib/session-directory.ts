/**
 * Reads of session state and host liveness from Redis: what the functions answer list, get and QR from, without
 * a round trip to a session host, and how a caller finds the host a command must go to.
 */
import { hostInfoSchema, sessionRecordSchema, type HostInfo, type SessionRecord } from '../contract/commands.js';
import { ServiceError } from '../contract/errors.js';
import type { RedisKeys } from '../contract/redis-keys.js';
import { getMany, type Redis } from './redis.js';
import { randomUUID } from 'node:crypto';
import { placeSessionScript, readSession, removeSession } from './redis-scripts.js';

/** Where a session stands in the list: its creation time (the index's score) and its id. */
export interface SessionPosition {
  createdAtMs: number;
  id: string;
}

const sameMsMargin = 64;
/** Long enough for a placed session to show in its host's heartbeat (a few heartbeats). */
const defaultPlacementWindowMs = 10_000;

export interface SessionEntry {
  record: SessionRecord;
  /** The host whose lease on the session is live, or null when no host holds it. */
  ownerHostId: string | null;
}

export type RemoveUnownedOutcome = { outcome: 'removed'; record: SessionRecord } | { outcome: 'owned'; hostId: string } | { outcome: 'missing' };

export class SessionDirectory {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async get(sessionId: string): Promise<SessionEntry | null> {
    const { record, owner, ownerAlive } = await readSession(this.redis, this.keys, sessionId);
    if (record === null) return null;
    return { record: parseRecord(record), ownerHostId: ownerAlive ? owner : null };
  }

  /** Every session with its live owner (null when none), oldest first. */
  async list(): Promise<SessionEntry[]> {
    return this.entries(await this.redis.zrange(this.keys.sessions, 0, -1));
  }

  /**
   * At most `limit` sessions, oldest first, starting after `after` (the position a previous page ended at: the
   * creation time and id of its last session, so a page stays right when sessions are created or deleted
   * meanwhile). `next` is where the following page starts, null on the last page.
   */
  async page(limit: number, after: SessionPosition | null): Promise<{ entries: SessionEntry[]; next: SessionPosition | null }> {
    // Sessions created in the same millisecond sort by id; fetch a margin past the page for those that share `after`'s.
    const raw = await this.redis.zrangebyscore(this.keys.sessions, after?.createdAtMs ?? '-inf', '+inf', 'WITHSCORES', 'LIMIT', 0, limit + 1 + sameMsMargin);
    const positions: SessionPosition[] = [];
    for (let index = 0; index + 1 < raw.length; index += 2) {
      const id = raw[index] ?? '';
      const createdAtMs = Number(raw[index + 1]);
      if (after !== null && createdAtMs === after.createdAtMs && id <= after.id) continue;
      positions.push({ createdAtMs, id });
    }
    const taken = positions.slice(0, limit);
    const last = taken.at(-1);
    const next = positions.length > limit && last !== undefined ? last : null;
    return { entries: await this.entries(taken.map((position) => position.id)), next };
  }

  private async entries(ids: string[]): Promise<SessionEntry[]> {
    if (ids.length === 0) return [];
    // Keys of many slots: one MGET on one server, GETs sent together on a Cluster (getMany).
    const [raws, owners] = await Promise.all([
      getMany(this.redis, ids.map((id) => this.keys.session(id))),
      getMany(this.redis, ids.map((id) => this.keys.sessionOwner(id))),
    ]);
    const ownerIds = [...new Set(owners.filter((owner): owner is string => typeof owner === 'string'))];
    const hostKeys = await getMany(this.redis, ownerIds.map((owner) => this.keys.host(owner)));
    const alive = new Set(ownerIds.filter((_, index) => typeof hostKeys[index] === 'string'));
    const entries: SessionEntry[] = [];
    raws.forEach((raw, index) => {
      if (typeof raw !== 'string') return;
      const owner = owners[index];
      entries.push({ record: parseRecord(raw), ownerHostId: typeof owner === 'string' && alive.has(owner) ? owner : null });
    });
    return entries;
  }

  /**
   * The live host of `engine` a new session should go to (least loaded, counting placements not yet in a
   * heartbeat), or null when none runs; LIMIT_REACHED when every one is full (MAX_SESSIONS_PER_HOST). Each call
   * counts as one placement on the host it answers.
   */
  async placeSession(engine: string, windowMs = defaultPlacementWindowMs): Promise<string | null> {
    // The hosts' keys are each in their host's slot: read them here; place-session-1 counts the placements (one key)
    // atomically, which is what spreads sessions created at the same moment.
    const candidates = (await this.liveHosts()).filter((host) => host.engine === engine);
    if (candidates.length === 0) return null;
    const hostId = await placeSessionScript.run(
      this.redis,
      [this.keys.placements],
      [Date.now(), windowMs, randomUUID(), ...candidates.flatMap((host) => [host.hostId, host.heartbeatAtMs ?? 0, host.sessions, host.maxSessions ?? 0])],
    );
    if (hostId === 0) {
      const max = Math.max(...candidates.map((host) => host.maxSessions ?? 0));
      throw new ServiceError('LIMIT_REACHED', `Every session host of the ${engine} engine runs its most sessions; delete some, or add a host.`, {
        details: { cap: 'sessionsPerHost', limit: max, hosts: candidates.length },
      });
    }
    return typeof hostId === 'string' ? hostId : null;
  }

  /** The engines some live host runs (`webjs`, `simulator`). */
  async liveEngines(): Promise<Set<string>> {
    return new Set((await this.liveHosts()).map((host) => host.engine));
  }

  /**
   * Removes a session that no live host holds, straight from Redis: its record, its place in the index, its owner
   * key, its event log and its webhook cursors. For a session whose engine no host runs (nobody can log it out).
   * Atomic against a host adopting it meanwhile (WATCH on the record and owner, on a connection of its own):
   * `owned` then, with the host, and nothing is removed. Its login data (the host's DATA_DIR) is not touched. On a
   * Redis Cluster: removeUnownedAcrossSlots.
   */
  async removeUnowned(sessionId: string): Promise<RemoveUnownedOutcome> {
    if (this.redis.isCluster) return this.removeUnownedAcrossSlots(sessionId);
    const connection = this.redis.duplicate();
    try {
      if (connection.status === 'wait') await connection.connect();
      for (let attempt = 0; attempt < 5; attempt += 1) {
        await connection.watch(this.keys.session(sessionId), this.keys.sessionOwner(sessionId));
        const [raw, owner] = await connection.mget(this.keys.session(sessionId), this.keys.sessionOwner(sessionId));
        if (typeof raw !== 'string') {
          await connection.unwatch();
          return { outcome: 'missing' };
        }
        if (typeof owner === 'string') {
          // Watched too: a heartbeat that comes back between this look and the removal makes the removal fail.
          await connection.watch(this.keys.host(owner));
          if ((await connection.exists(this.keys.host(owner))) === 1) {
            await connection.unwatch();
            return { outcome: 'owned', hostId: owner };
          }
        }
        const done = await connection
          .multi()
          .del(this.keys.session(sessionId), this.keys.sessionOwner(sessionId), this.keys.events(sessionId), this.keys.webhookCursors(sessionId))
          .zrem(this.keys.sessions, sessionId)
          .exec();
        if (done !== null) return { outcome: 'removed', record: parseRecord(raw) };
      }
      throw new Error(`session ${sessionId} kept changing while being removed`);
    } finally {
      connection.disconnect();
    }
  }

  /**
   * removeUnowned on a Redis Cluster, where one WATCH cannot span the session's slot and its owner's: read, check the
   * owner's heartbeat, then remove-session-4 removes only if the owner is still the one read (a host that adopted
   * the session meanwhile wins). What it cannot see is the dead owner itself coming back in the moment between its
   * check and the removal: that host then holds a session whose record is gone, and drops it at its next save
   * (save-session-2 refuses a missing record). The removal is what the caller asked for either way.
   */
  private async removeUnownedAcrossSlots(sessionId: string): Promise<RemoveUnownedOutcome> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const { record, owner, ownerAlive } = await readSession(this.redis, this.keys, sessionId);
      if (record === null) return { outcome: 'missing' };
      if (owner !== null && ownerAlive) return { outcome: 'owned', hostId: owner };
      const removed = await removeSession(this.redis, this.keys, sessionId, owner);
      if (removed === 'removed') return { outcome: 'removed', record: parseRecord(record) };
      if (removed === 'missing') return { outcome: 'missing' };
    }
    throw new Error(`session ${sessionId} kept changing while being removed`);
  }

  /** Hosts whose heartbeat is live, least loaded first. */
  async liveHosts(): Promise<HostInfo[]> {
    const hostIds = await this.redis.zrange(this.keys.hosts, 0, -1);
    if (hostIds.length === 0) return [];
    const raws = await getMany(this.redis, hostIds.map((hostId) => this.keys.host(hostId)));
    const hosts: HostInfo[] = [];
    for (const raw of raws) {
      if (typeof raw !== 'string') continue;
      const parsed = hostInfoSchema.safeParse(JSON.parse(raw));
      if (parsed.success) hosts.push(parsed.data);
    }
    return hosts.sort((a, b) => a.sessions - b.sessions);
  }
}

/** A stored session record (JSON), validated. */
export function parseRecord(raw: string): SessionRecord {
  return sessionRecordSchema.parse(JSON.parse(raw));
}
