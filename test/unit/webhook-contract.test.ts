/** The webhook routes' schemas: strict bodies, event names from the event contract, the deliveries query. */
import { describe, expect, it } from 'vitest';
import { eventBodySchema } from '../../contract/events.js';
import { createWebhookBodySchema, deliveriesQuerySchema, replayWebhookBodySchema, webhookEventNames } from '../../contract/webhooks.js';

describe('webhook schemas', () => {
  it('takes every event name of the WebSocket API, and only those', () => {
    expect(webhookEventNames).toEqual(eventBodySchema.options.map((option) => option.shape.event.value));
    expect(webhookEventNames).toEqual(expect.arrayContaining(['connection_update', 'message', 'message_ack']));
    expect(createWebhookBodySchema.safeParse({ url: 'https://hooks.example/wa', events: ['message_ack'] }).success).toBe(true);
    expect(createWebhookBodySchema.safeParse({ url: 'https://hooks.example/wa', events: ['messages'] }).success).toBe(false);
  });

  it('refuses unknown fields, other schemes and bad session ids', () => {
    expect(createWebhookBodySchema.safeParse({ url: 'https://hooks.example/wa', secret: 'x' }).success).toBe(false);
    expect(createWebhookBodySchema.safeParse({ url: 'ftp://hooks.example/wa' }).success).toBe(false);
    expect(createWebhookBodySchema.safeParse({ url: 'https://hooks.example/wa', sessions: ['../etc'] }).success).toBe(false);
  });

  it('reads the deliveries query and the replay body', () => {
    expect(deliveriesQuerySchema.parse({ status: 'dead', limit: '500' })).toEqual({ status: 'dead', limit: 500 });
    expect(deliveriesQuerySchema.safeParse({ limit: '501' }).success).toBe(false);
    expect(deliveriesQuerySchema.safeParse({ status: 'pending' }).success).toBe(false);
    expect(replayWebhookBodySchema.safeParse({ sessionId: 'alice', after: '1764500000000-0' }).success).toBe(true);
    expect(replayWebhookBodySchema.safeParse({ sessionId: 'alice', after: '99999999999999999999-0' }).success).toBe(false);
  });
});
