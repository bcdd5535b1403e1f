/** Session records in Redis, written only by the host that owns each session (see lib/redis-scripts.ts). */
import { sessionRecordSchema, type SessionRecord } from '../../contract/commands.js';
import type { RedisKeys } from '../../contract/redis-keys.js';
import type { Redis } from '../../lib/redis.js';
import { claimSessionScript, createSessionScript, disownSessionScript, saveSessionScript } from '../../lib/redis-scripts.js';

export type ClaimOutcome = 'claimed' | 'owned-elsewhere' | 'missing';

export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly hostId: string,
  ) {}

  /** Records a new session owned by this host; false when the id is taken. */
  async create(record: SessionRecord): Promise<boolean> {
    const created = await createSessionScript.run(
      this.redis,
      [this.keys.session(record.id), this.keys.sessions, this.keys.sessionOwner(record.id)],
      [JSON.stringify(record), Date.parse(record.createdAt), record.id, this.hostId],
    );
    return created === 1;
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
    const outcome = await claimSessionScript.run(
      this.redis,
      [this.keys.session(sessionId), this.keys.sessionOwner(sessionId)],
      [this.hostId, this.keys.host('')],
    );
    return outcome === 1 ? 'claimed' : outcome === 0 ? 'owned-elsewhere' : 'missing';
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
    await this.redis
      .multi()
      .del(this.keys.session(sessionId), this.keys.sessionOwner(sessionId), this.keys.events(sessionId), this.keys.webhookCursors(sessionId))
      .zrem(this.keys.sessions, sessionId)
      .exec();
    const webhookIds = await this.redis.hkeys(this.keys.webhooks);
    if (webhookIds.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const webhookId of webhookIds) pipeline.hdel(this.keys.webhookFailing(webhookId), sessionId);
    await pipeline.exec();
  }
}
