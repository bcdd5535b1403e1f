/**
 * Delivers the events of this host's sessions to the webhooks, from the per-session event log, at least once and
 * in order per (webhook, session) pair.
 *
 * Each pair has a durable cursor in Redis (the last event delivered, or given up as `dead`), in the session's own
 * hash slot. A pair is worked by one loop on the host that owns the session: it reads the log after the cursor,
 * posts each event the webhook's filters take (retrying it with backoff until it is delivered or its retry window
 * is over), and moves the cursor after each, with a compare-and-set so that a `replay` that moved it back wins.
 * A host that dies mid-delivery has not moved the cursor past the event it was posting: the next owner posts it
 * again (a duplicate, never a gap). Loops are woken by appended events (as the WebSocket pusher is), by webhook
 * changes announced on pub/sub, and by a slow periodic look; an adopted session always appends a
 * `connection_update` as it starts, which wakes its pairs on the new owner.
 *
 * Isolation: each pair waits only for its own events; posts go through a per-webhook and a global limiter with a
 * timeout each, so a slow or dead receiver holds up neither the WebSocket path (a separate listener that never
 * waits for this one) nor other webhooks.
 */
import type { ServiceEvent } from '../../contract/events.js';
import { retryWithBackoff } from '../../lib/backoff.js';
import type { Logger } from '../../lib/logger.js';
import type { Redis } from '../../lib/redis.js';
import type { RedisKeys } from '../../contract/redis-keys.js';
import { webhookChangeSchema, type StoredDelivery, type StoredWebhook, type WebhookChange, type WebhookStore } from '../../lib/webhook-store.js';
import type { EventLog } from '../events/event-log.js';
import { frameOf } from '../events/event-pusher.js';
import { Limiter } from './limiter.js';
import { postWebhook, type PostResult, type WebhookPost } from './webhook-sender.js';
import type { HostMetrics } from '../metrics.js';

export type WebhookStorePort = Pick<
  WebhookStore,
  'stored' | 'cursor' | 'advanceCursor' | 'delivery' | 'recordDelivery' | 'setFailing' | 'purgeIfDeleted' | 'takesSessionOf'
>;

export interface WebhookDispatcherOptions {
  store: WebhookStorePort;
  events: Pick<EventLog, 'onAppended' | 'readAfter'>;
  redis: Redis;
  keys: RedisKeys;
  hostId: string;
  /** Whether this host runs the session now (the session manager's view; Redis's owner key is checked too). */
  owns: (sessionId: string) => boolean;
  logger: Logger;
  /** A connection of its own for the webhook-changes channel (subscriber mode); none = periodic looks only. */
  subscriber?: Redis;
  /** How long one event is retried before it is `dead` (WEBHOOK_RETRY_FOR_MS). */
  retryForMs: number;
  /** One attempt's limit (WEBHOOK_TIMEOUT_MS, 10 s). */
  timeoutMs: number;
  /** Posts in flight at once on this host, and per webhook. */
  concurrency: number;
  perWebhookConcurrency?: number;
  allowPrivate: boolean;
  /** First retry delay and cap (default: derived from the retry window, 1 s and 10 min for 24 h). */
  backoff?: { baseMs: number; maxMs: number };
  /** How often every pair of this host's sessions is looked at, in case a wake-up was missed (default 60 s). */
  sweepMs?: number;
  /** Counts deliveries by outcome (metrics.ts). */
  metrics?: Pick<HostMetrics, 'webhookDelivery'>;
  /** The POST itself (tests may swap it). */
  post?: (post: WebhookPost, guard: { allowPrivate: boolean }) => Promise<PostResult>;
}

interface Pair {
  webhookId: string;
  sessionId: string;
  running: boolean;
  /** Woken while running: look at the log again before stopping. */
  again: boolean;
  /** Aborts the pair's current wait and post (webhook deleted, replay, stop). */
  abort: AbortController;
}

const pageSize = 100;

export class WebhookDispatcher {
  private readonly webhooks = new Map<string, StoredWebhook>();
  private readonly pairs = new Map<string, Pair>();
  /** Sessions this host has appended events for: candidates for pairs. */
  private readonly sessions = new Set<string>();
  private readonly global: Limiter;
  private readonly perWebhook = new Map<string, Limiter>();
  private readonly backoff: { baseMs: number; maxMs: number };
  private readonly post: NonNullable<WebhookDispatcherOptions['post']>;
  private unsubscribe: (() => void) | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private stopped = false;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly options: WebhookDispatcherOptions) {
    this.global = new Limiter(options.concurrency);
    this.backoff = options.backoff ?? {
      baseMs: Math.min(1_000, Math.max(20, Math.floor(options.retryForMs / 1_000))),
      maxMs: Math.min(10 * 60_000, Math.max(100, Math.floor(options.retryForMs / 4))),
    };
    this.post = options.post ?? postWebhook;
  }

  async start(): Promise<void> {
    this.unsubscribe ??= this.options.events.onAppended((event) => this.onEvent(event));
    const { subscriber, keys, logger } = this.options;
    if (subscriber !== undefined) {
      subscriber.on('message', (channel: string, message: string) => {
        if (channel === keys.webhookChanges) this.onChange(message);
      });
      await subscriber.subscribe(keys.webhookChanges);
    }
    await this.refresh().catch((error: unknown) => logger.warn({ err: error }, 'could not read the webhooks'));
    this.sweeper = setInterval(() => {
      void this.refresh()
        .then(() => this.wakeAll())
        .catch((error: unknown) => logger.warn({ err: error }, 'could not read the webhooks'));
    }, this.options.sweepMs ?? 60_000);
    this.sweeper.unref();
  }

  /** Stops every pair (a post in flight is abandoned: its cursor has not moved, the next owner posts it again). */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearInterval(this.sweeper);
    await this.options.subscriber?.unsubscribe().catch(() => undefined);
    for (const pair of this.pairs.values()) pair.abort.abort();
    await Promise.race([Promise.all(this.running), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }

  /** Pairs being worked right now (for tests and health). */
  get activePairs(): number {
    return [...this.pairs.values()].filter((pair) => pair.running).length;
  }

  private onEvent(event: ServiceEvent): void {
    if (this.stopped) return;
    this.sessions.add(event.sessionId);
    for (const webhook of this.webhooks.values()) {
      if (takesSession(webhook, event.sessionId)) this.wake(webhook.id, event.sessionId);
    }
  }

  private onChange(message: string): void {
    let change: WebhookChange;
    try {
      change = webhookChangeSchema.parse(JSON.parse(message));
    } catch {
      return;
    }
    if (change.kind === 'deleted') {
      this.forgetWebhook(change.webhookId);
      return;
    }
    if (change.kind === 'replayed') {
      const pair = this.pairs.get(pairKey(change.webhookId, change.sessionId));
      // A pair retrying an event gives up the wait: the cursor was moved back, it reads again from there.
      if (pair?.running === true) {
        pair.again = true;
        pair.abort.abort();
      }
      if (this.options.owns(change.sessionId)) this.sessions.add(change.sessionId);
    }
    void this.refresh()
      .then(() => (change.kind === 'replayed' ? this.wake(change.webhookId, change.sessionId) : this.wakeAll()))
      .catch((error: unknown) => this.options.logger.warn({ err: error }, 'could not read the webhooks'));
  }

  /** Reads the webhooks again (one read at a time; a request during one runs another after it). */
  private refresh(): Promise<void> {
    if (this.refreshing !== null) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          const stored = await this.options.store.stored();
          const ids = new Set(stored.map((webhook) => webhook.id));
          for (const id of this.webhooks.keys()) if (!ids.has(id)) this.forgetWebhook(id);
          for (const webhook of stored) this.webhooks.set(webhook.id, webhook);
        } while (this.refreshAgain);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private forgetWebhook(webhookId: string): void {
    this.webhooks.delete(webhookId);
    this.perWebhook.delete(webhookId);
    for (const [key, pair] of this.pairs) {
      if (pair.webhookId !== webhookId) continue;
      pair.abort.abort();
      this.pairs.delete(key);
    }
  }

  private wakeAll(): void {
    for (const sessionId of this.sessions) {
      if (!this.options.owns(sessionId)) {
        this.sessions.delete(sessionId);
        continue;
      }
      for (const webhook of this.webhooks.values()) if (takesSession(webhook, sessionId)) this.wake(webhook.id, sessionId);
    }
  }

  private wake(webhookId: string, sessionId: string): void {
    if (this.stopped || !this.webhooks.has(webhookId)) return;
    const key = pairKey(webhookId, sessionId);
    let pair = this.pairs.get(key);
    if (pair === undefined) {
      pair = { webhookId, sessionId, running: false, again: false, abort: new AbortController() };
      this.pairs.set(key, pair);
    }
    if (pair.running) {
      pair.again = true;
      return;
    }
    pair.running = true;
    const run = this.run(pair);
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  private async run(pair: Pair): Promise<void> {
    const logger = this.options.logger.child({ webhookId: pair.webhookId, sessionId: pair.sessionId });
    try {
      do {
        pair.again = false;
        if (pair.abort.signal.aborted) pair.abort = new AbortController();
        try {
          await this.drain(pair, logger);
        } catch (error) {
          logger.error({ err: error }, 'webhook delivery loop failed; trying again shortly');
          pair.again = !(await sleepUnlessStopped(1_000, this));
        }
      } while (pair.again && !this.stopped && this.webhooks.has(pair.webhookId));
    } finally {
      pair.running = false;
      // Deleted while this loop ran: what it wrote after the delete's clean-up goes too.
      if (!this.webhooks.has(pair.webhookId)) {
        await this.options.store.purgeIfDeleted(pair.webhookId, pair.sessionId).catch((error: unknown) => {
          logger.warn({ err: error }, 'could not clean up after a deleted webhook');
        });
      }
      // Nothing to remember for an idle pair: its state is in Redis.
      if (this.pairs.get(pairKey(pair.webhookId, pair.sessionId)) === pair) this.pairs.delete(pairKey(pair.webhookId, pair.sessionId));
    }
  }

  /** Delivers everything after the pair's cursor, then returns; returns early when the pair must stop or restart. */
  private async drain(pair: Pair, logger: Logger): Promise<void> {
    const { store, events } = this.options;
    const signal = pair.abort.signal;
    for (;;) {
      const webhook = this.webhooks.get(pair.webhookId);
      if (webhook === undefined || signal.aborted || this.stopped) return;
      if (!(await this.ownsNow(pair.sessionId))) return;
      // A tenant's webhook delivers that tenant's sessions only (the owner of a session never changes while it lives).
      if (!(await store.takesSessionOf(webhook, pair.sessionId))) return;
      const cursor = await store.cursor(pair.webhookId, pair.sessionId);
      const { events: page, expired } = await events.readAfter(pair.sessionId, cursor ?? webhook.startAfter, pageSize);
      if (expired && cursor !== null) {
        logger.warn({ cursor }, 'events were trimmed from the log before they could be delivered to this webhook');
        // Never lost silently: the gap is listed among the webhook's dead deliveries (`event: events_expired`, under
        // the id of the last event delivered before it), where an operator looking for failures finds it.
        const at = new Date().toISOString();
        await store.recordDelivery(pair.webhookId, {
          eventId: cursor,
          sessionId: pair.sessionId,
          event: 'events_expired',
          attempts: 0,
          status: 'dead',
          lastStatusCode: null,
          lastError: `The events after ${cursor} up to ${page[0]?.id ?? 'now'} were trimmed from the session's event log (EVENT_LOG_MAX_LENGTH, EVENT_LOG_RETENTION_MS, EVENT_LOG_MAX_BYTES) before they could be delivered; they cannot be replayed.`,
          nextAttemptAt: null,
          updatedAt: at,
          firstAttemptAt: Date.now(),
        });
      }
      if (page.length === 0) return;
      let expected = cursor;
      for (const event of page) {
        if (signal.aborted || this.stopped) return;
        if (takesEvent(webhook, event)) {
          const outcome = await this.deliver(pair, webhook, event, logger);
          if (outcome === 'aborted') return;
        }
        if (!(await store.advanceCursor(pair.webhookId, pair.sessionId, expected, event.id))) break; // a replay moved it
        expected = event.id;
      }
    }
  }

  /** Posts one event until it is delivered, or `dead` at the end of its retry window; `aborted` when stopped. */
  private async deliver(pair: Pair, webhook: StoredWebhook, event: ServiceEvent, logger: Logger): Promise<'delivered' | 'dead' | 'aborted'> {
    const { store, timeoutMs, retryForMs, allowPrivate } = this.options;
    const signal = pair.abort.signal;
    const body = frameOf(event);
    // A series that a previous owner began goes on: its attempts and its window are kept with the delivery.
    const prior = await store.delivery(webhook.id, pair.sessionId, event.id);
    const resumed = prior?.status === 'failed';
    const firstAttemptAt = resumed ? prior.firstAttemptAt : Date.now();
    const record = (fields: Pick<StoredDelivery, 'status' | 'attempts' | 'lastStatusCode' | 'lastError' | 'nextAttemptAt'>) =>
      store.recordDelivery(webhook.id, {
        eventId: event.id,
        sessionId: pair.sessionId,
        event: event.event,
        updatedAt: new Date().toISOString(),
        firstAttemptAt,
        ...fields,
      });
    let last: PostResult | undefined;
    const result = await retryWithBackoff<'delivered' | 'aborted'>(
      async () => {
        // Checked before each attempt: a session that moved to another host, or a deleted webhook, stops here.
        if (!(await this.ownsNow(pair.sessionId)) || !this.webhooks.has(webhook.id)) return { kind: 'done', value: 'aborted' };
        const limiter = this.limiterOf(webhook.id);
        if (!(await limiter.acquire(signal))) return { kind: 'done', value: 'aborted' };
        try {
          if (!(await this.global.acquire(signal))) return { kind: 'done', value: 'aborted' };
          try {
            last = await this.post(
              { url: webhook.url, body, messageId: event.id, secret: webhook.secret, timeoutMs, signal },
              { allowPrivate },
            );
          } finally {
            this.global.release();
          }
        } finally {
          limiter.release();
        }
        if (signal.aborted) return { kind: 'done', value: 'aborted' };
        if (last.ok) return { kind: 'done', value: 'delivered' };
        return last.retryAfterMs === undefined ? { kind: 'retry' } : { kind: 'retry', retryAfterMs: last.retryAfterMs };
      },
      {
        ...this.backoff,
        giveUpAt: firstAttemptAt + retryForMs,
        attemptsBefore: resumed ? prior.attempts : 0,
        signal,
        onRetry: async (attempts, nextAttemptAt) => {
          const failed = last !== undefined && !last.ok ? last : undefined;
          logger.info({ eventId: event.id, attempts, statusCode: failed?.statusCode ?? null, error: failed?.error }, 'webhook delivery failed; will retry');
          this.options.metrics?.webhookDelivery('retrying');
          await record({
            status: 'failed',
            attempts,
            lastStatusCode: failed?.statusCode ?? null,
            lastError: failed?.error ?? null,
            nextAttemptAt: new Date(nextAttemptAt).toISOString(),
          });
          await store.setFailing(webhook.id, pair.sessionId, true);
        },
      },
    );
    if (result.kind === 'aborted' || (result.kind === 'done' && result.value === 'aborted') || signal.aborted) return 'aborted';
    if (result.kind === 'done') {
      this.options.metrics?.webhookDelivery('delivered');
      await record({ status: 'delivered', attempts: result.attempts, lastStatusCode: last?.statusCode ?? null, lastError: null, nextAttemptAt: null });
      await store.setFailing(webhook.id, pair.sessionId, false);
      return 'delivered';
    }
    const failed = last !== undefined && !last.ok ? last : undefined;
    logger.warn({ eventId: event.id, attempts: result.attempts, statusCode: failed?.statusCode ?? null }, 'webhook delivery is dead; moving on');
    this.options.metrics?.webhookDelivery('dead');
    await record({
      status: 'dead',
      attempts: result.attempts,
      lastStatusCode: failed?.statusCode ?? null,
      lastError: failed?.error ?? null,
      nextAttemptAt: null,
    });
    await store.setFailing(webhook.id, pair.sessionId, true);
    return 'dead';
  }

  /** This host runs the session, and Redis agrees (a session handed over or adopted elsewhere stops here). */
  private async ownsNow(sessionId: string): Promise<boolean> {
    if (!this.options.owns(sessionId)) return false;
    return (await this.options.redis.get(this.options.keys.sessionOwner(sessionId))) === this.options.hostId;
  }

  private limiterOf(webhookId: string): Limiter {
    let limiter = this.perWebhook.get(webhookId);
    if (limiter === undefined) {
      limiter = new Limiter(this.options.perWebhookConcurrency ?? Math.max(1, Math.ceil(this.options.concurrency / 4)));
      this.perWebhook.set(webhookId, limiter);
    }
    return limiter;
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}

function pairKey(webhookId: string, sessionId: string): string {
  return `${webhookId}\u0000${sessionId}`;
}

function takesSession(webhook: StoredWebhook, sessionId: string): boolean {
  return webhook.sessions.length === 0 || webhook.sessions.includes(sessionId);
}

function takesEvent(webhook: StoredWebhook, event: ServiceEvent): boolean {
  return takesSession(webhook, event.sessionId) && (webhook.events.length === 0 || webhook.events.includes(event.event));
}

async function sleepUnlessStopped(ms: number, dispatcher: WebhookDispatcher): Promise<boolean> {
  await new Promise((resolve) => setTimeout(resolve, ms).unref());
  return dispatcher.isStopped;
}
