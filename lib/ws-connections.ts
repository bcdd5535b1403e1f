/**
 * The registry of WebSocket connections in Redis: who is connected and which sessions each one follows. Written by
 * the WebSocket functions ($connect, subscribe, unsubscribe, $disconnect) and by the session hosts (resume, and the
 * removal of connections that API Gateway says are gone); read by the hosts to find an event's recipients.
 *
 * A connection with no subscription receives every session's events (it is in the `unfiltered` set); once it has
 * subscriptions it receives only those sessions'. Connection records expire after API Gateway's two-hour limit.
 *
 * A connection that asked for batching (`?batch=1` on connect) has `batch` = 1 in its hash: the hosts then send it
 * its events in `batch` frames (docs/api.md, "Batching").
 */
import type { RedisKeys } from '../contract/redis-keys.js';
import type { Redis } from './redis.js';
import { RedisScript } from './redis-scripts.js';

/** API Gateway closes every WebSocket connection after two hours. */
export const connectionTtlSeconds = 2 * 60 * 60;

/** ws-subscribe-3: adds a subscription to a registered connection and takes it out of the unfiltered set. (lib/lua/ws-subscribe-3.lua) */
const subscribeScript = new RedisScript('ws-subscribe-3');

/** ws-unsubscribe-3: removes a subscription; a connection left with none receives every session's events again. (lib/lua/ws-unsubscribe-3.lua) */
const unsubscribeScript = new RedisScript('ws-unsubscribe-3');

/** What a client chose when it connected. */
export interface ConnectionOptions {
  /** Events in `batch` frames, as many as fit in one (`?batch=1`). */
  batch?: boolean;
}

/**
 * Every key of the registry carries the `{ws}` hash tag (contract/redis-keys.ts), so on a Redis Cluster the scripts,
 * the MULTIs and the SUNION below stay in one slot: the registry's load is on one shard (docs/architecture.md).
 */
export class ConnectionRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async register(connectionId: string, sessionId: string | null, options: ConnectionOptions = {}): Promise<void> {
    const key = this.keys.wsConnection(connectionId);
    const fields: Record<string, string> = { connectedAt: new Date().toISOString() };
    if (options.batch === true) fields.batch = '1';
    const multi = this.redis.multi().hset(key, fields).expire(key, connectionTtlSeconds);
    if (sessionId === null) multi.sadd(this.keys.wsUnfiltered, connectionId);
    await multi.exec();
    if (sessionId !== null) await this.subscribe(connectionId, sessionId);
  }

  /** False when the connection is not registered (gone, or expired). */
  async subscribe(connectionId: string, sessionId: string): Promise<boolean> {
    return this.runSubscribe(connectionId, sessionId, '');
  }

  /**
   * What `resume` does: the connection receives the session's events from now on. An unfiltered connection
   * receives them already and stays unfiltered (a resume is not a subscription of the contract's).
   */
  async follow(connectionId: string, sessionId: string): Promise<boolean> {
    return this.runSubscribe(connectionId, sessionId, 'keep-unfiltered');
  }

  private async runSubscribe(connectionId: string, sessionId: string, mode: string): Promise<boolean> {
    const done = await subscribeScript.run(
      this.redis,
      [this.keys.wsConnection(connectionId), this.keys.wsUnfiltered, this.keys.wsSubscribers(sessionId)],
      [connectionId, sessionId, mode],
    );
    return done === 1;
  }

  async unsubscribe(connectionId: string, sessionId: string): Promise<boolean> {
    const done = await unsubscribeScript.run(
      this.redis,
      [this.keys.wsConnection(connectionId), this.keys.wsUnfiltered, this.keys.wsSubscribers(sessionId)],
      [connectionId, sessionId],
    );
    return done === 1;
  }

  /** Forgets a connection and all its subscriptions. */
  async remove(connectionId: string): Promise<void> {
    const key = this.keys.wsConnection(connectionId);
    const fields = await this.redis.hkeys(key);
    const multi = this.redis.multi().del(key).srem(this.keys.wsUnfiltered, connectionId);
    for (const field of fields) {
      if (field.startsWith('s:')) multi.srem(this.keys.wsSubscribers(field.slice(2)), connectionId);
    }
    await multi.exec();
  }

  /** Whether the connection asked for its events in `batch` frames (false when it is not registered). */
  async batching(connectionId: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.wsConnection(connectionId), 'batch')) === '1';
  }

  /** The connections that must receive an event of `sessionId`. */
  async recipients(sessionId: string): Promise<string[]> {
    return this.redis.sunion(this.keys.wsUnfiltered, this.keys.wsSubscribers(sessionId));
  }
}
