/**
 * Webhook registrations and their delivery state, in Redis. The REST routes use the first half (create, list, get,
 * delete, deliveries, replay); the session hosts use the second (the stored webhooks with their secrets, the cursor
 * of each (webhook, session) pair, delivery records, the failing mark).
 *
 * - `wa:webhooks` (hash): webhook id → the stored webhook, its secret included. The secret is shown once, at
 *   creation, and is kept only here: the hosts need it in clear to sign (an HMAC key cannot be a digest). It is never
 *   logged and never answered again.
 * - `wa:{s:<id>}:webhook-cursors` (hash, in the session's slot): webhook id → the last event of that session
 *   delivered (or given up as `dead`) to the webhook. The owning host reads the log after it; a pair with no cursor
 *   starts at the webhook's creation (`startAfter`).
 * - `wa:{w:<id>}:deliveries` (hash) + one sorted set per status and one of all: the newest `deliveriesKept`
 *   deliveries of the webhook, for `GET …/deliveries` (record-webhook-delivery-5).
 * - `wa:{w:<id>}:failing` (hash): session id → since when its deliveries fail; the webhook is `failing` while not empty.
 * - `wa:webhook-changes` (pub/sub): created, deleted, replayed; hosts look again at once (and every minute anyway).
 *
 * A webhook made with a tenant key belongs to that tenant: the REST side shows it to that key only (another key's
 * lookups answer WEBHOOK_NOT_FOUND, as for a webhook that does not exist), and the hosts deliver to it only events of
 * sessions that tenant owns. The `tenant` argument of the REST methods is the caller's tenant (null: an administrator).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ServiceError, SessionNotFoundError, ValidationError } from '../contract/errors.js';
import type { RedisKeys } from '../contract/redis-keys.js';
import {
  deliverySchema,
  webhookSchema,
  type CreateWebhookBody,
  type Delivery,
  type DeliveryStatus,
  type Webhook,
  defaultDeliveriesLimit,
} from '../contract/webhooks.js';
import { runEach, type Redis, type RedisCommand } from './redis.js';
import { advanceWebhookCursorScript, recordWebhookDeliveryScript, rewindWebhookCursorScript } from './redis-scripts.js';
import { UrlRefusedError, vetUrl, type UrlGuardOptions } from './url-guard.js';

/** What the store keeps of a webhook: the public fields but `status`, the secret, and where its deliveries start. */
export const storedWebhookSchema = webhookSchema.omit({ status: true }).extend({
  secret: z.string().startsWith('whsec_'),
  /** Event id after which its deliveries begin, for a session it has no cursor for: the moment it was created. */
  startAfter: z.string(),
  /**
   * The tenant key that made it (lib/api-keys.ts): it is visible to that key only (and to administrators), and
   * delivers that tenant's sessions' events only. Null or absent: an administrator's, for every session.
   */
  tenant: z.string().nullable().optional(),
});
export type StoredWebhook = z.infer<typeof storedWebhookSchema>;

/** A delivery as stored: the public Delivery plus when its retry window began (it outlives a host's restart). */
export const storedDeliverySchema = deliverySchema.extend({ firstAttemptAt: z.number() });
export type StoredDelivery = z.infer<typeof storedDeliverySchema>;

export type WebhookChange =
  | { kind: 'created' | 'deleted'; webhookId: string }
  | { kind: 'replayed'; webhookId: string; sessionId: string };

export interface WebhookStoreOptions extends UrlGuardOptions {
  /** Webhooks at most; one more is refused (409 LIMIT_REACHED with `details.limit`). */
  maxWebhooks?: number;
  /** Webhooks one tenant key may hold, so that one tenant cannot take every place (409 LIMIT_REACHED). */
  maxWebhooksPerTenant?: number;
  /** Deliveries kept per webhook (the newest). */
  deliveriesKept?: number;
  now?: () => Date;
}

export const defaultMaxWebhooks = 100;
export const defaultMaxWebhooksPerTenant = 20;
export const defaultDeliveriesKept = 1_000;
const maxStreamSeq = '18446744073709551615';

export class WebhookNotFoundError extends ServiceError {
  override readonly name = 'WebhookNotFoundError';
  constructor(webhookId: string) {
    super('WEBHOOK_NOT_FOUND', `No webhook '${webhookId}'.`, { details: { webhookId } });
  }
}

export class WebhookStore {
  private readonly maxWebhooks: number;
  private readonly deliveriesKept: number;
  private readonly now: () => Date;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly options: WebhookStoreOptions,
  ) {
    this.maxWebhooks = options.maxWebhooks ?? defaultMaxWebhooks;
    this.deliveriesKept = options.deliveriesKept ?? defaultDeliveriesKept;
    this.now = options.now ?? (() => new Date());
  }

  // ----------------------------------------------------------------------------------------------------------
  // The REST side

  /**
   * Stores a webhook and answers it with its secret (the only time the secret is answered). The URL must pass the
   * URL guard (https, a public address) unless private targets are allowed: else VALIDATION_FAILED on `url`.
   */
  async create(body: CreateWebhookBody, tenant: string | null = null): Promise<{ webhook: Webhook; secret: string }> {
    try {
      await vetUrl(body.url, this.options);
    } catch (error) {
      if (error instanceof UrlRefusedError) throw new ValidationError([{ path: 'url', message: error.message }]);
      throw error;
    }
    if ((await this.redis.hlen(this.keys.webhooks)) >= this.maxWebhooks) {
      throw new ServiceError('LIMIT_REACHED', `At most ${this.maxWebhooks} webhooks; delete one first.`, {
        details: { limit: this.maxWebhooks, cap: 'webhooks' },
      });
    }
    const perTenant = this.options.maxWebhooksPerTenant ?? defaultMaxWebhooksPerTenant;
    if (tenant !== null && (await this.stored()).filter((webhook) => webhook.tenant === tenant).length >= perTenant) {
      throw new ServiceError('LIMIT_REACHED', `A tenant key may hold at most ${perTenant} webhooks; delete one first.`, {
        details: { limit: perTenant, cap: 'webhooksPerKey' },
      });
    }
    // Redis's clock, not ours: event ids are made from it, and deliveries start with the events after this instant.
    const [seconds, micros] = await this.redis.time();
    const redisMs = Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
    const stored: StoredWebhook = {
      id: `wh_${randomBytes(12).toString('hex')}`,
      url: body.url,
      events: [...new Set(body.events ?? [])],
      sessions: [...new Set(body.sessions ?? [])],
      description: body.description ?? null,
      createdAt: this.now().toISOString(),
      secret: `whsec_${randomBytes(24).toString('base64')}`,
      startAfter: `${redisMs - 1}-${maxStreamSeq}`,
      ...(tenant === null ? {} : { tenant }),
    };
    await this.redis.hset(this.keys.webhooks, stored.id, JSON.stringify(stored));
    await this.announce({ kind: 'created', webhookId: stored.id });
    return { webhook: publicWebhook(stored, false), secret: stored.secret };
  }

  /** Every webhook the caller may see, oldest first. */
  async list(tenant: string | null = null): Promise<Webhook[]> {
    const stored = (await this.stored()).filter((webhook) => visibleTo(webhook, tenant));
    if (stored.length === 0) return [];
    // One hash per webhook, each in its own slot: runEach (a Cluster's pipelines stay on one node).
    const failing = await runEach(this.redis, stored.map((webhook): RedisCommand => ['hlen', this.keys.webhookFailing(webhook.id)]));
    return stored.map((webhook, index) => publicWebhook(webhook, Number(failing[index] ?? 0) > 0));
  }

  /** The webhook, or NOT_FOUND. */
  async get(webhookId: string, tenant: string | null = null): Promise<Webhook> {
    const stored = await this.storedOne(webhookId);
    if (stored === null || !visibleTo(stored, tenant)) throw new WebhookNotFoundError(webhookId);
    return publicWebhook(stored, (await this.redis.hlen(this.keys.webhookFailing(webhookId))) > 0);
  }

  /** Deletes the webhook (as it was) and everything kept for it; hosts stop delivering to it at once. */
  async delete(webhookId: string, tenant: string | null = null): Promise<Webhook> {
    const webhook = await this.get(webhookId, tenant);
    if ((await this.redis.hdel(this.keys.webhooks, webhookId)) === 0) throw new WebhookNotFoundError(webhookId);
    await this.announce({ kind: 'deleted', webhookId });
    await this.redis.del(
      this.keys.webhookFailing(webhookId),
      this.keys.webhookDeliveries(webhookId),
      ...(['all', 'delivered', 'failed', 'dead'] as const).map((status) => this.keys.webhookDeliveryIndex(webhookId, status)),
    );
    // Its cursors live in each session's hash: drop them, a page of sessions at a time.
    for (let start = 0; ; start += 500) {
      const sessionIds = await this.redis.zrange(this.keys.sessions, start, start + 499);
      if (sessionIds.length === 0) break;
      await runEach(this.redis, sessionIds.map((sessionId): RedisCommand => ['hdel', this.keys.webhookCursors(sessionId), webhookId]));
      if (sessionIds.length < 500) break;
    }
    return webhook;
  }

  /**
   * After a delivery loop of a deleted webhook ended: removes what the loop may have written after the delete had
   * cleaned up (a delivery record, the failing mark, the session's cursor), so nothing of it is left without a TTL.
   * Nothing happens while the webhook exists.
   */
  async purgeIfDeleted(webhookId: string, sessionId: string): Promise<boolean> {
    if (await this.exists(webhookId)) return false;
    await this.redis.del(
      this.keys.webhookFailing(webhookId),
      this.keys.webhookDeliveries(webhookId),
      ...(['all', 'delivered', 'failed', 'dead'] as const).map((status) => this.keys.webhookDeliveryIndex(webhookId, status)),
    );
    await this.redis.hdel(this.keys.webhookCursors(sessionId), webhookId);
    return true;
  }

  /** The webhook's newest deliveries first, of one status or all; NOT_FOUND for an unknown webhook. */
  async deliveries(
    webhookId: string,
    query: { status?: DeliveryStatus | undefined; limit?: number | undefined } = {},
    tenant: string | null = null,
  ): Promise<Delivery[]> {
    const webhook = await this.storedOne(webhookId);
    if (webhook === null || !visibleTo(webhook, tenant)) throw new WebhookNotFoundError(webhookId);
    const limit = query.limit ?? defaultDeliveriesLimit;
    const members = await this.redis.zrevrange(this.keys.webhookDeliveryIndex(webhookId, query.status ?? 'all'), 0, limit - 1);
    if (members.length === 0) return [];
    const raws = await this.redis.hmget(this.keys.webhookDeliveries(webhookId), ...members);
    const deliveries: Delivery[] = [];
    for (const raw of raws) {
      const parsed = raw === null ? null : storedDeliverySchema.safeParse(JSON.parse(raw));
      if (parsed?.success === true) deliveries.push(publicDelivery(parsed.data));
    }
    return deliveries;
  }

  /**
   * Delivers again every event of the session after `after` that the log still holds (those the webhook's event
   * filter takes), in order, after anything of that pair still pending. Answers how many that is. NOT_FOUND for an
   * unknown webhook, SESSION_NOT_FOUND for an unknown session; 0 for a session the webhook's filter leaves out.
   */
  async replay(webhookId: string, sessionId: string, after: string, tenant: string | null = null): Promise<number> {
    const webhook = await this.storedOne(webhookId);
    if (webhook === null || !visibleTo(webhook, tenant)) throw new WebhookNotFoundError(webhookId);
    if ((await this.redis.exists(this.keys.session(sessionId))) === 0) throw new SessionNotFoundError(sessionId);
    if (!(await this.takesSessionOf(webhook, sessionId))) throw new SessionNotFoundError(sessionId);
    if (webhook.sessions.length > 0 && !webhook.sessions.includes(sessionId)) return 0;
    await rewindWebhookCursorScript.run(this.redis, [this.keys.webhookCursors(sessionId)], [webhookId, after, webhook.startAfter]);
    let queued = 0;
    let from = `(${after}`;
    for (;;) {
      const entries = await this.redis.xrange(this.keys.events(sessionId), from, '+', 'COUNT', 1_000);
      for (const [, fields] of entries) {
        if (webhook.events.length === 0) {
          queued += 1;
          continue;
        }
        const name = eventNameOf(fields[1]);
        if (name !== null && webhook.events.includes(name)) queued += 1;
      }
      const last = entries.at(-1);
      if (last === undefined || entries.length < 1_000) break;
      from = `(${last[0]}`;
    }
    await this.announce({ kind: 'replayed', webhookId, sessionId });
    return queued;
  }

  // ----------------------------------------------------------------------------------------------------------
  // The session host's side

  /** Every stored webhook, secrets included (never log these). */
  async stored(): Promise<StoredWebhook[]> {
    const all = await this.redis.hgetall(this.keys.webhooks);
    const webhooks: StoredWebhook[] = [];
    for (const raw of Object.values(all)) {
      const parsed = storedWebhookSchema.safeParse(JSON.parse(raw));
      if (parsed.success) webhooks.push(parsed.data);
    }
    return webhooks.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async storedOne(webhookId: string): Promise<StoredWebhook | null> {
    const raw = await this.redis.hget(this.keys.webhooks, webhookId);
    if (raw === null) return null;
    const parsed = storedWebhookSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  }

  /** Whether the webhook may deliver the session's events: an administrator's any, a tenant's its own sessions' only. */
  async takesSessionOf(webhook: Pick<StoredWebhook, 'tenant'>, sessionId: string): Promise<boolean> {
    if (webhook.tenant === null || webhook.tenant === undefined) return true;
    return (await this.redis.get(this.keys.sessionTenant(sessionId))) === webhook.tenant;
  }

  async exists(webhookId: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.webhooks, webhookId)) === 1;
  }

  /** The last event of the session delivered (or given up) to the webhook; null when none yet. */
  async cursor(webhookId: string, sessionId: string): Promise<string | null> {
    return this.redis.hget(this.keys.webhookCursors(sessionId), webhookId);
  }

  /** Moves the pair's cursor from `expected` to `next`; false when it moved meanwhile (a replay). */
  async advanceCursor(webhookId: string, sessionId: string, expected: string | null, next: string): Promise<boolean> {
    const moved = await advanceWebhookCursorScript.run(this.redis, [this.keys.webhookCursors(sessionId)], [webhookId, expected ?? '', next]);
    return moved === 1;
  }

  async delivery(webhookId: string, sessionId: string, eventId: string): Promise<StoredDelivery | null> {
    const raw = await this.redis.hget(this.keys.webhookDeliveries(webhookId), `${sessionId}/${eventId}`);
    if (raw === null) return null;
    const parsed = storedDeliverySchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  }

  async recordDelivery(webhookId: string, delivery: StoredDelivery): Promise<void> {
    const index = (status: 'all' | DeliveryStatus) => this.keys.webhookDeliveryIndex(webhookId, status);
    await recordWebhookDeliveryScript.run(
      this.redis,
      [this.keys.webhookDeliveries(webhookId), index('all'), index('delivered'), index('failed'), index('dead')],
      [`${delivery.sessionId}/${delivery.eventId}`, JSON.stringify(delivery), delivery.status, Date.parse(delivery.updatedAt), this.deliveriesKept],
    );
  }

  /** Marks (or clears) the pair as failing; the webhook is `failing` while any of its pairs is. */
  async setFailing(webhookId: string, sessionId: string, failing: boolean): Promise<void> {
    const key = this.keys.webhookFailing(webhookId);
    if (failing) await this.redis.hsetnx(key, sessionId, String(this.now().getTime()));
    else await this.redis.hdel(key, sessionId);
  }

  private async announce(change: WebhookChange): Promise<void> {
    await this.redis.publish(this.keys.webhookChanges, JSON.stringify(change));
  }
}

/** Whether the caller (a tenant's key id, or null for an administrator) may see the webhook. */
function visibleTo(webhook: StoredWebhook, tenant: string | null): boolean {
  return tenant === null || webhook.tenant === tenant;
}

export function publicWebhook(stored: StoredWebhook, failing: boolean): Webhook {
  return {
    id: stored.id,
    url: stored.url,
    events: stored.events,
    sessions: stored.sessions,
    description: stored.description,
    createdAt: stored.createdAt,
    status: failing ? 'failing' : 'active',
  };
}

export function publicDelivery(stored: StoredDelivery): Delivery {
  const { firstAttemptAt: _firstAttemptAt, ...delivery } = stored;
  return delivery;
}

export const webhookChangeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.enum(['created', 'deleted']), webhookId: z.string() }),
  z.object({ kind: z.literal('replayed'), webhookId: z.string(), sessionId: z.string() }),
]);

/** The event name of a raw log entry (`e` field JSON), or null. */
function eventNameOf(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null && 'event' in parsed && typeof parsed.event === 'string' ? parsed.event : null;
  } catch {
    return null;
  }
}
