/** Session records in Redis, written only by the host that owns each session (see lib/redis-scripts.ts). */
import { sessionRecordSchema, type SessionRecord } from '../../contract/commands.js';
import type { RedisKeys } from '../../contract/redis-keys.js';
import { runEach, type Redis, type RedisCommand } from '../../lib/redis.js';
import { claimSession, createSession, disownSessionScript, removeSession, saveSessionScript } from '../../lib/redis-scripts.js';

export type ClaimOutcome = 'claimed' | 'owned-elsewhere' | 'missing';

export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly hostId: string,
  ) {}

  /** Records a new session owned by this host; false when the id is taken. */
  async create(record: SessionRecord): Promise<boolean> {
    return createSession(this.redis, this.keys, record.id, JSON.stringify(record), Date.parse(record.createdAt), this.hostId);
  }

  /** Saves a record while this host owns the session; false when it no longer does. */
  async save(record: SessionRecord): Promise<boolean> {
    const saved = await saveSessionScript.run(
      this.redis,
      [this.keys.session(record.id), this.keys.sessionOwner(record.id)],
      [JSON.stringify(record), this.hostId],
    );
    return saved === 1;
  }

  async claim(sessionId: string): Promise<ClaimOutcome> {
    return claimSession(this.redis, this.keys, sessionId, this.hostId);
  }

  /** Gives up this host's claim (the session moves to another host); false when it was not ours. */
  async disown(sessionId: string): Promise<boolean> {
    return (await disownSessionScript.run(this.redis, [this.keys.sessionOwner(sessionId)], [this.hostId])) === 1;
  }

  async get(sessionId: string): Promise<SessionRecord | null> {
    const raw = await this.redis.get(this.keys.session(sessionId));
    return raw === null ? null : sessionRecordSchema.parse(JSON.parse(raw));
  }

  async allIds(): Promise<string[]> {
    return this.redis.zrange(this.keys.sessions, 0, -1);
  }

  /**
   * Forgets a session: its record, its place in the index, its owner, its event log, its webhook cursors, and the
   * mark of a webhook failing for it (else that webhook would read `failing` for ever).
   */
  async remove(sessionId: string): Promise<void> {
    await removeSession(this.redis, this.keys, sessionId);
    const webhookIds = await this.redis.hkeys(this.keys.webhooks);
    // One hash per webhook, each in its webhook's slot: runEach, not one pipeline (a Cluster's stay on one node).
    await runEach(this.redis, webhookIds.map((webhookId): RedisCommand => ['hdel', this.keys.webhookFailing(webhookId), sessionId]));
  }
}
