/**
 * The frames the service sends a WebSocket client besides events (contract/events.ts): the answers to its actions.
 *
 * - `pong`, `subscribed`, `unsubscribed`: the answers to `ping`, `subscribe`, `unsubscribe`.
 * - `resumed`: a `resume` is done; it comes after the last replayed event, before the live events that follow it.
 * - `batch`: events (contract/events.ts), in order, for a connection that asked for batching (`?batch=1`).
 * - `error`: an action failed. It names the `action` it answers (when the client's message named a known one) and
 *   the `sessionId` that action was about (when it had one), so a client following many sessions knows what to retry.
 */
import { z } from 'zod';
import { sessionIdSchema } from './api.js';
import { errorCodes } from './errors.js';
import { eventBodySchema } from './events.js';

export const clientActionNames = ['subscribe', 'unsubscribe', 'resume', 'ping'] as const;
export type ClientActionName = (typeof clientActionNames)[number];

/** The service's error codes, and two of the WebSocket API's own. */
export const wsErrorCodes = [...errorCodes, 'UNKNOWN_ACTION', 'EVENTS_EXPIRED'] as const;
export type WsErrorCode = (typeof wsErrorCodes)[number];

export const pongFrameSchema = z.strictObject({ event: z.literal('pong') });

export const subscribedFrameSchema = z.strictObject({ event: z.literal('subscribed'), sessionId: sessionIdSchema });

export const unsubscribedFrameSchema = z.strictObject({ event: z.literal('unsubscribed'), sessionId: sessionIdSchema });

/** The replay of a `resume` is done: `replayed` events were sent; `expired` when the log no longer reached back. */
export const resumedFrameSchema = z.strictObject({
  event: z.literal('resumed'),
  sessionId: sessionIdSchema,
  replayed: z.number().int().nonnegative(),
  expired: z.boolean(),
});

/** The largest `batch` frame: API Gateway's 32 KB WebSocket frame, less a margin. */
export const maxBatchFrameBytes = 32 * 1024 - 256;

/**
 * Events for a connection that asked for batching (`?batch=1` on connect): as many as fit in `maxBatchFrameBytes`, in
 * the order a single-event connection would have received them. An event whose frame alone is larger comes alone, as
 * a plain event frame. Each element is exactly an event frame (contract/events.ts; `truncated` as for one event).
 */
export const batchFrameSchema = z.strictObject({
  event: z.literal('batch'),
  events: z.array(eventBodySchema.and(z.object({ id: z.string(), truncated: z.literal(true).optional() }))).min(1),
});

export const errorFrameSchema = z.strictObject({
  event: z.literal('error'),
  /** The session the failed action was about; absent when it had none (or could not be read). */
  sessionId: sessionIdSchema.optional(),
  /** The action this error answers; absent when the client's message named no known action. */
  action: z.enum(clientActionNames).optional(),
  data: z.strictObject({ code: z.enum(wsErrorCodes), message: z.string() }),
});

export const controlFrameSchema = z.discriminatedUnion('event', [
  pongFrameSchema,
  subscribedFrameSchema,
  unsubscribedFrameSchema,
  resumedFrameSchema,
  errorFrameSchema,
]);

export type PongFrame = z.infer<typeof pongFrameSchema>;
export type SubscribedFrame = z.infer<typeof subscribedFrameSchema>;
export type UnsubscribedFrame = z.infer<typeof unsubscribedFrameSchema>;
export type ResumedFrame = z.infer<typeof resumedFrameSchema>;
export type BatchFrame = z.infer<typeof batchFrameSchema>;
export type ErrorFrame = z.infer<typeof errorFrameSchema>;
export type ControlFrame = z.infer<typeof controlFrameSchema>;
