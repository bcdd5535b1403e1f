/**
 * The per-session event log: a Redis stream capped by length, by age and by bytes (the events' JSON, counted in
 * `{s:<id>}:event-bytes`): each append trims the oldest entries while any cap is passed (append-event-3), so no client
 * can grow one session's log past `maxBytes`, whatever the size of its events. Appending gives each event its id (the
 * stream entry id, increasing within the session); the log is what `resume` replays from.
 */
import { eventBodySchema, type EventBody, type ServiceEvent } from '../../contract/events.js';
import type { RedisKeys } from '../../contract/redis-keys.js';
import type { Redis } from '../../lib/redis.js';
import { RedisScript } from '../../lib/redis-scripts.js';
import type { HostMetrics } from '../metrics.js';

export interface EventLogOptions {
  maxLength: number;
  retentionMs: number;
  /** Bytes (events' JSON) one session's log may hold (EVENT_LOG_MAX_BYTES); absent or 0: no byte cap. */
  maxBytes?: number;
  /** Counts each event appended, by type (metrics.ts). */
  metrics?: Pick<HostMetrics, 'eventAppended'>;
}

export type EventListener = (event: ServiceEvent) => void;

/** append-event-3: appends an event (once, with a once-key) and trims the log by length, age and bytes. (lib/lua/append-event-3.lua) */
const appendEventScript = new RedisScript('append-event-3');

export class EventLog {
  private readonly listeners = new Set<EventListener>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly options: EventLogOptions,
  ) {}

  /** Called with each event once it is in the log, in the order of its id within a session. */
  onAppended(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Appends an event. With `onceKey`, only if no event with that key was appended within the retention time (an
   * incoming message announced twice, possibly by two processes): then null, and nothing is raised.
   */
  async append(body: EventBody, options: { onceKey?: string } = {}): Promise<ServiceEvent | null> {
    const { keys, args } = this.appendCall(body, options.onceKey);
    return this.appended(body, options.onceKey, await appendEventScript.run(this.redis, keys, args));
  }

  /**
   * Appends several events of one session in one round trip, in order (a pipeline of append-event-3, each as
   * `append` would; the keys of a session share one slot, so on a Redis Cluster the pipeline goes to one node). Each
   * answers as `append` would: its event, or null for a once-key seen before. The host's event path: a burst of a
   * session's events costs one round trip, not one per event.
   */
  async appendMany(items: ReadonlyArray<{ body: EventBody; onceKey?: string | undefined }>): Promise<Array<ServiceEvent | null>> {
    const [first] = items;
    if (items.length <= 1 || first === undefined) return first === undefined ? [] : [await this.append(first.body, { ...(first.onceKey === undefined ? {} : { onceKey: first.onceKey }) })];
    const pipeline = this.redis.pipeline();
    for (const item of items) {
      const { keys, args } = this.appendCall(item.body, item.onceKey);
      // EVAL, not EVALSHA: after a Redis restart a NOSCRIPT could fail some appends of the batch and not others
      // (another process loading the script in between), which would reorder the session's events.
      pipeline.eval(appendEventScript.lua, keys.length, ...keys, ...args);
    }
    const results = (await pipeline.exec()) ?? [];
    // Every event that is in the log is raised, in order, even when another of the batch failed (then thrown after).
    let failure: unknown = null;
    const events = items.map((item, index) => {
      const [error, reply] = results[index] ?? [new Error('no reply to an append'), null];
      try {
        if (error !== null) throw error;
        return this.appended(item.body, item.onceKey, reply);
      } catch (caught) {
        failure ??= caught;
        return null;
      }
    });
    if (failure !== null) throw failure;
    return events;
  }

  private appendCall(body: EventBody, onceKey: string | undefined): { keys: string[]; args: Array<string | number> } {
    const { sessionId } = body;
    return {
      keys: [this.keys.events(sessionId), this.keys.eventBytes(sessionId), this.keys.eventOnce(sessionId, onceKey ?? '-')],
      args: [
        this.options.maxLength,
        Date.now() - this.options.retentionMs,
        JSON.stringify(body),
        Math.ceil(this.options.retentionMs / 1_000),
        this.options.maxBytes ?? 0,
        onceKey !== undefined ? '1' : '0',
        this.options.retentionMs + 3_600_000,
      ],
    };
  }

  private appended(body: EventBody, onceKey: string | undefined, reply: unknown): ServiceEvent | null {
    if (typeof reply !== 'string') {
      if (onceKey !== undefined) return null;
      throw new Error('XADD answered no id');
    }
    return this.raise({ id: reply, ...body });
  }

  private raise(event: ServiceEvent): ServiceEvent {
    this.options.metrics?.eventAppended(event.event);
    for (const listener of this.listeners) listener(event);
    return event;
  }

  /**
   * The events of a session with an id greater than `after`, oldest first, at most `count`. `expired` is true when
   * the log no longer holds everything after `after` (older entries were trimmed).
   */
  async readAfter(sessionId: string, after: string, count: number): Promise<{ events: ServiceEvent[]; expired: boolean }> {
    const key = this.keys.events(sessionId);
    const entries = await this.redis.xrange(key, `(${after}`, '+', 'COUNT', count);
    const events: ServiceEvent[] = [];
    for (const [id, fields] of entries) {
      const raw = fields[1];
      if (raw === undefined) continue;
      const parsed = eventBodySchema.safeParse(JSON.parse(raw));
      if (parsed.success) events.push({ id, ...parsed.data });
    }
    return { events, expired: await this.isExpired(key, after) };
  }

  /**
   * True when `after` is older than what the log still keeps: entries were trimmed from this stream (Redis counts
   * every entry ever added; more than it holds now means some left) and `after` comes before the oldest kept one.
   */
  private async isExpired(key: string, after: string): Promise<boolean> {
    let info: unknown;
    try {
      info = await this.redis.call('XINFO', 'STREAM', key);
    } catch (error) {
      if (error instanceof Error && /no such key/i.test(error.message)) return false;
      throw error;
    }
    if (!Array.isArray(info)) return false;
    const field = (name: string): unknown => {
      const at = info.indexOf(name);
      return at >= 0 ? info[at + 1] : undefined;
    };
    const length = Number(field('length'));
    const entriesAdded = Number(field('entries-added'));
    const firstEntry = field('first-entry');
    const firstId = Array.isArray(firstEntry) ? firstEntry[0] : undefined;
    if (!(entriesAdded > length) || typeof firstId !== 'string') return false;
    return compareStreamIds(after, firstId) < 0;
  }
}

export function compareStreamIds(a: string, b: string): number {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map((part) => BigInt(part));
  const [bMs = 0n, bSeq = 0n] = b.split('-').map((part) => BigInt(part));
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
}
