/**
 * The registry of WebSocket connections in Redis: who is connected and which sessions each one follows. Written by
 * the WebSocket functions ($connect, subscribe, unsubscribe, $disconnect) and by the session hosts (resume, and the
 * removal of connections that API Gateway says are gone); read by the hosts to find an event's recipients.
 *
 * A connection with no subscription receives every session's events it may see: an administrator's connection is in
 * `{ws}:all` and receives every session's; a tenant key's connection is in `{ws}:all:<key id>` and receives only the
 * sessions that tenant owns (lib/api-keys.ts). Once it has subscriptions it receives only those sessions': it is in
 * `{ws}:followers:<session id>`, as `<connection id>` (an administrator's) or `<connection id>|<key id>` (a
 * tenant's, which `recipients` drops unless the session is that tenant's, so a session deleted and made again by
 * another tenant under the same id never reaches the first).
 *
 * Every set is a sorted set scored by the expiry (ms) of the connection's record, pruned on every read and write, and
 * expires itself with the last connection in it: a connection whose record expired before its `$disconnect` (API
 * Gateway closes connections after two hours; a `$disconnect` can be lost) stops counting at once and leaves no key
 * behind. All keys share the `{ws}` hash tag, so each step below is one MULTI in one Redis Cluster slot.
 *
 * A connection that asked for batching (`?batch=1` on connect) has `batch` = 1 in its hash: the hosts then send it
 * its events in `batch` frames (docs/api.md, "Batching").
 */
import { ServiceError } from '../contract/errors.js';
import type { RedisKeys } from '../contract/redis-keys.js';
import type { Redis } from './redis.js';

/** API Gateway closes every WebSocket connection after two hours. */
export const connectionTtlSeconds = 2 * 60 * 60;

/** The default cap on subscriptions per connection (WS_MAX_SUBSCRIPTIONS). */
export const defaultMaxSubscriptions = 100;

/** What a client chose when it connected, and who it is. */
export interface ConnectionOptions {
  /** Events in `batch` frames, as many as fit in one (`?batch=1`). */
  batch?: boolean;
  /** The tenant key the connection presented (null or absent: an administrator's key). */
  tenant?: string | null;
  /** The stored key it presented (`POST /api/keys`), so that revoking the key drops the connection; absent: a configured key. */
  keyId?: string;
}

interface ConnectionState {
  tenant: string | null;
  keyId: string | null;
  expiresAt: number;
  subscriptions: string[];
}

export class ConnectionRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly options: { maxSubscriptions?: number; now?: () => number } = {},
  ) {}

  async register(connectionId: string, sessionId: string | null, options: ConnectionOptions = {}): Promise<void> {
    const key = this.keys.wsConnection(connectionId);
    const expiresAt = this.now() + connectionTtlSeconds * 1_000;
    const tenant = options.tenant ?? null;
    const fields: Record<string, string> = { connectedAt: new Date().toISOString(), expiresAt: String(expiresAt) };
    if (options.batch === true) fields.batch = '1';
    if (tenant !== null) fields.tenant = tenant;
    if (options.keyId !== undefined) fields.key = options.keyId;
    const multi = this.redis.multi().hset(key, fields).pexpireat(key, expiresAt);
    if (sessionId === null) this.addTo(multi, this.unfilteredSet(tenant), connectionId, expiresAt);
    if (options.keyId !== undefined) this.addTo(multi, this.keys.wsByKey(options.keyId), connectionId, expiresAt);
    await multi.exec();
    if (sessionId !== null) await this.subscribe(connectionId, sessionId);
  }

  /** The tenant a registered connection acts for (null: an administrator), or undefined when it is not registered. */
  async tenantOf(connectionId: string): Promise<string | null | undefined> {
    const state = await this.state(connectionId);
    return state === null ? undefined : state.tenant;
  }

  /**
   * LIMIT_REACHED when following the session (a `resume`) would take the connection past its subscription cap: it
   * follows neither that session nor every session already, and holds the most subscriptions it may.
   */
  async assertMayFollow(connectionId: string, sessionId: string): Promise<void> {
    const state = await this.state(connectionId);
    if (state === null || state.subscriptions.length === 0 || state.subscriptions.includes(sessionId)) return;
    const max = this.options.maxSubscriptions ?? defaultMaxSubscriptions;
    if (state.subscriptions.length >= max) throw limitReached(max);
  }

  /**
   * False when the connection is not registered (gone, or expired). LIMIT_REACHED when it holds the most
   * subscriptions a connection may (WS_MAX_SUBSCRIPTIONS).
   */
  async subscribe(connectionId: string, sessionId: string): Promise<boolean> {
    return this.follow(connectionId, sessionId, { capped: true, keepUnfiltered: false });
  }

  /**
   * What `resume` does: the connection receives the session's events from now on. An unfiltered connection
   * receives them already and stays unfiltered (a resume is not a subscription of the contract's). Not capped here:
   * the WebSocket function checks the cap before it asks for the resume.
   */
  async follow(connectionId: string, sessionId: string, mode: { capped: boolean; keepUnfiltered: boolean } = { capped: false, keepUnfiltered: true }): Promise<boolean> {
    const state = await this.state(connectionId);
    if (state === null) return false;
    if (mode.keepUnfiltered && state.subscriptions.length === 0) return true;
    const key = this.keys.wsConnection(connectionId);
    const max = this.options.maxSubscriptions ?? defaultMaxSubscriptions;
    if (!state.subscriptions.includes(sessionId) && mode.capped && state.subscriptions.length >= max) {
      throw limitReached(max);
    }
    const multi = this.redis.multi().hset(key, `s:${sessionId}`, '1').pexpireat(key, state.expiresAt).zrem(this.unfilteredSet(state.tenant), connectionId);
    this.addTo(multi, this.keys.wsFollowers(sessionId), memberOf(connectionId, state.tenant), state.expiresAt);
    await multi.exec();
    if (mode.capped) {
      // Subscriptions made at the same moment may pass the count above together: take back this one if so.
      const count = (await this.redis.hkeys(key)).filter((field) => field.startsWith('s:')).length;
      if (count > max && !state.subscriptions.includes(sessionId)) {
        await this.unsubscribe(connectionId, sessionId);
        throw limitReached(max);
      }
    }
    return true;
  }

  async unsubscribe(connectionId: string, sessionId: string): Promise<boolean> {
    const state = await this.state(connectionId);
    if (state === null) return false;
    const key = this.keys.wsConnection(connectionId);
    const left = state.subscriptions.filter((id) => id !== sessionId);
    const multi = this.redis.multi().hdel(key, `s:${sessionId}`).zrem(this.keys.wsFollowers(sessionId), memberOf(connectionId, state.tenant));
    // A connection left with no subscription receives every session's events (that it may see) again.
    if (left.length === 0) this.addTo(multi, this.unfilteredSet(state.tenant), connectionId, state.expiresAt);
    await multi.exec();
    return true;
  }

  /** Forgets a connection and all its subscriptions. */
  async remove(connectionId: string): Promise<void> {
    const state = await this.state(connectionId);
    const multi = this.redis.multi().del(this.keys.wsConnection(connectionId)).zrem(this.keys.wsAdminUnfiltered, connectionId);
    if (state !== null) {
      if (state.tenant !== null) multi.zrem(this.keys.wsTenantUnfiltered(state.tenant), connectionId);
      if (state.keyId !== null) multi.zrem(this.keys.wsByKey(state.keyId), connectionId);
      for (const sessionId of state.subscriptions) multi.zrem(this.keys.wsFollowers(sessionId), memberOf(connectionId, state.tenant));
    }
    await multi.exec();
  }

  /** Forgets every connection opened with a stored key (it was revoked): they receive nothing more. Answers how many. */
  async removeAllOf(keyId: string): Promise<number> {
    const connectionIds = await this.redis.zrange(this.keys.wsByKey(keyId), 0, -1);
    for (const connectionId of connectionIds) await this.remove(connectionId);
    await this.redis.del(this.keys.wsByKey(keyId));
    return connectionIds.length;
  }

  /** Whether the connection asked for its events in `batch` frames (false when it is not registered). */
  async batching(connectionId: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.wsConnection(connectionId), 'batch')) === '1';
  }

  /**
   * The connections that must receive an event of `sessionId`: administrators' unfiltered connections, the owning
   * tenant's unfiltered connections, and the session's followers of the right tenant (or administrators). Expired
   * entries are pruned on the way.
   */
  async recipients(sessionId: string): Promise<string[]> {
    const tenant = await this.redis.get(this.keys.sessionTenant(sessionId));
    const now = this.now();
    const sets = [this.keys.wsAdminUnfiltered, this.keys.wsFollowers(sessionId), ...(tenant === null ? [] : [this.keys.wsTenantUnfiltered(tenant)])];
    const multi = this.redis.multi();
    for (const set of sets) multi.zremrangebyscore(set, '-inf', now).zrangebyscore(set, now, '+inf');
    const reply = (await multi.exec()) ?? [];
    const listed = (index: number) => (reply[index * 2 + 1]?.[1] as string[] | undefined) ?? [];
    const recipients = new Set<string>(listed(0));
    for (const member of listed(1)) {
      const bar = member.indexOf('|');
      if (bar === -1) recipients.add(member);
      else if (member.slice(bar + 1) === tenant) recipients.add(member.slice(0, bar));
    }
    if (tenant !== null) for (const connectionId of listed(2)) recipients.add(connectionId);
    return [...recipients];
  }

  private async state(connectionId: string): Promise<ConnectionState | null> {
    const fields = await this.redis.hgetall(this.keys.wsConnection(connectionId));
    if (Object.keys(fields).length === 0) return null;
    const expiresAt = Number(fields.expiresAt);
    return {
      tenant: fields.tenant ?? null,
      keyId: fields.key ?? null,
      // A record of an earlier version has no expiresAt: it expires two hours after it connected at most.
      expiresAt: Number.isFinite(expiresAt) && expiresAt > 0 ? expiresAt : this.now() + connectionTtlSeconds * 1_000,
      subscriptions: Object.keys(fields)
        .filter((field) => field.startsWith('s:'))
        .map((field) => field.slice(2)),
    };
  }

  private unfilteredSet(tenant: string | null): string {
    return tenant === null ? this.keys.wsAdminUnfiltered : this.keys.wsTenantUnfiltered(tenant);
  }

  /** Adds a member scored by its expiry, prunes what expired, and keeps the set's own TTL at its latest member's. */
  private addTo(multi: ReturnType<Redis['multi']>, set: string, member: string, expiresAt: number): void {
    multi
      .zremrangebyscore(set, '-inf', this.now())
      .zadd(set, expiresAt, member)
      .pexpireat(set, expiresAt, 'NX')
      .pexpireat(set, expiresAt, 'GT');
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

function limitReached(max: number): ServiceError {
  return new ServiceError('LIMIT_REACHED', `A connection may hold at most ${max} subscriptions; unsubscribe first.`, {
    details: { limit: max, cap: 'subscriptionsPerConnection' },
  });
}

/** A follower's member: the connection id, and the tenant it acts for (none: an administrator). */
function memberOf(connectionId: string, tenant: string | null): string {
  return tenant === null ? connectionId : `${connectionId}|${tenant}`;
}
