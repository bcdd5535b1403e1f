/**
 * Webhooks: the durable second channel. Each event of the WebSocket API (contract/events.ts) is also POSTed, signed
 * per Standard Webhooks, to every webhook whose filters take it, at least once and in order per (webhook, session).
 * These are the shapes of the REST routes (`/api/webhooks…`) and of what the store keeps in Redis.
 */
import { z } from 'zod';
import { sessionIdSchema } from './api.js';
import { eventBodySchema } from './events.js';

/** Every event name of the WebSocket API, read off the event union: an event added there is a webhook event too. */
export const webhookEventNames = eventBodySchema.options.map((option) => option.shape.event.value) as [string, ...string[]];
export const webhookEventNameSchema = z.enum(webhookEventNames);
export type WebhookEventName = z.infer<typeof webhookEventNameSchema>;

export const webhookIdSchema = z.string().regex(/^wh_[A-Za-z0-9]{8,64}$/, 'must be a webhook id this service gave');

/** `<ms>-<seq>`, both parts unsigned 64-bit numbers (Redis refuses more): an event id this service gave. */
export const eventIdSchema = z
  .string()
  .refine(
    (id) => /^\d{1,20}-\d{1,20}$/.test(id) && id.split('-').every((part) => BigInt(part) <= 18_446_744_073_709_551_615n),
    'must be an event id this service gave',
  );

export const webhookStatuses = ['active', 'failing'] as const;
export const webhookSchema = z.object({
  id: webhookIdSchema,
  url: z.string(),
  /** Event names delivered; empty = every event. */
  events: z.array(webhookEventNameSchema),
  /** Sessions delivered; empty = every session. */
  sessions: z.array(sessionIdSchema),
  description: z.string().nullable(),
  createdAt: z.string(),
  /** `failing` while the last attempt to some session's next event failed (it is being retried or went dead). */
  status: z.enum(webhookStatuses),
}).meta({ id: 'Webhook' });
export type Webhook = z.infer<typeof webhookSchema>;

/** `failed`: the last attempt failed and another is due at `nextAttemptAt`; `dead`: retried for the whole window. */
export const deliveryStatuses = ['delivered', 'failed', 'dead'] as const;
export const deliveryStatusSchema = z.enum(deliveryStatuses);
export type DeliveryStatus = z.infer<typeof deliveryStatusSchema>;

export const deliverySchema = z.object({
  eventId: z.string(),
  sessionId: sessionIdSchema,
  event: z.string(),
  attempts: z.number().int().nonnegative(),
  status: deliveryStatusSchema,
  /** The HTTP status of the last attempt; null when it got none (refused, timed out, blocked address). */
  lastStatusCode: z.number().int().nullable(),
  lastError: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
  updatedAt: z.string(),
}).meta({ id: 'Delivery' });
export type Delivery = z.infer<typeof deliverySchema>;

export const maxWebhookUrlLength = 2_048;
export const maxWebhookDescriptionLength = 500;

/** `POST /api/webhooks`. The URL's address is checked again when the webhook is stored and before each delivery. */
export const createWebhookBodySchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(maxWebhookUrlLength),
  events: z.array(webhookEventNameSchema).max(webhookEventNames.length * 2).optional(),
  sessions: z.array(sessionIdSchema).max(1_000).optional(),
  description: z.string().max(maxWebhookDescriptionLength).optional(),
});
export type CreateWebhookBody = z.infer<typeof createWebhookBodySchema>;

export const defaultDeliveriesLimit = 50;
/** `GET /api/webhooks/:webhookId/deliveries?status=…&limit=…` (query strings); no status: every delivery kept. */
export const deliveriesQuerySchema = z.strictObject({
  status: deliveryStatusSchema.optional(),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be an integer from 1 to 500')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be at least 1').max(500, 'must be at most 500'))
    .optional(),
});
export type DeliveriesQuery = z.infer<typeof deliveriesQuerySchema>;

/** `POST /api/webhooks/:webhookId/replay`: delivers again every event of the session after `after` still in the log. */
export const replayWebhookBodySchema = z.strictObject({ sessionId: sessionIdSchema, after: eventIdSchema });
export type ReplayWebhookBody = z.infer<typeof replayWebhookBodySchema>;

/** The answers of the routes. */
export const webhookResponseSchema = z.object({ webhook: webhookSchema });
export const createdWebhookResponseSchema = z.object({ webhook: webhookSchema, secret: z.string().startsWith('whsec_') });
export const webhooksResponseSchema = z.object({ webhooks: z.array(webhookSchema) });
export const deliveriesResponseSchema = z.object({ deliveries: z.array(deliverySchema) });
export const replayResponseSchema = z.object({ queued: z.number().int().nonnegative() });
