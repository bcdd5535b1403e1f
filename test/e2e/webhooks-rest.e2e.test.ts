/**
 * The webhook routes end to end: HTTP → serverless offline → Redis, and the session host delivering to a receiver
 * on loopback. Create answers the secret once; deliveries are signed with it (Standard Webhooks); the deliveries
 * list, replay and delete work through the API; bad input gets the contract's errors.
 */
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Delivery, Webhook } from '../../contract/webhooks.js';
import { eventually, sessionBecomes } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { startReceiver, type Receiver } from '../integration/webhook-receiver.js';

let stack: TestStack;
let receiver: Receiver;

beforeAll(async () => {
  stack = await startTestStack({ hostEnv: { SIMULATOR_AUTO_SCAN_MS: '100', WEBHOOK_RETRY_FOR_MS: '2000' } });
  receiver = await startReceiver();
});

afterAll(async () => {
  await receiver?.close();
  await stack?.stop();
});

interface ErrorBody {
  error: { code: string; details?: Record<string, unknown> };
}

async function connectedSession(sessionId: string): Promise<void> {
  expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId } })).status).toBe(201);
  await sessionBecomes(stack.api, sessionId, 'connected');
}

async function incoming(sessionId: string, text: string): Promise<void> {
  const sent = await stack.api.request('POST', `/api/simulator/sessions/${sessionId}/incoming`, { body: { from: '4930123456', text } });
  expect(sent.status).toBe(202);
}

function bodiesOf(sessionId: string): string[] {
  return receiver
    .delivered()
    .filter((frame) => frame.sessionId === sessionId && frame.event === 'message')
    .map((frame) => (frame as unknown as { data: { body: string } }).data.body);
}

describe('webhook routes', () => {
  it('registers a webhook, delivers signed events to it, lists, replays and deletes it through the API', async () => {
    await connectedSession('hooked');
    const created = await stack.api.request<{ webhook: Webhook; secret: string }>('POST', '/api/webhooks', {
      body: { url: receiver.url, events: ['message'], sessions: ['hooked'], description: 'rest test' },
    });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_/);
    const { webhook, secret } = created.body;
    expect(webhook).toMatchObject({ url: receiver.url, events: ['message'], sessions: ['hooked'], status: 'active' });

    const listed = await stack.api.request<{ webhooks: Webhook[] }>('GET', '/api/webhooks');
    expect(listed.body.webhooks.map((item) => item.id)).toContain(webhook.id);
    expect(listed.text).not.toContain(secret);
    expect((await stack.api.request<{ webhook: Webhook }>('GET', `/api/webhooks/${webhook.id}`)).body.webhook.id).toBe(webhook.id);

    await incoming('hooked', 'first');
    await incoming('hooked', 'second');
    await eventually('both messages delivered', async () => (bodiesOf('hooked').length >= 2 ? true : undefined), 30_000);
    expect(bodiesOf('hooked').slice(0, 2)).toEqual(['first', 'second']);
    // Each POST verifies with any Standard Webhooks library, and the body is the WebSocket frame.
    const request = receiver.requests.find((candidate) => candidate.body.includes('"first"'));
    if (request === undefined) throw new Error('no request carried the first message');
    const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
    const verified = new StandardWebhook(secret).verify(request.body, headers) as { id: string; sessionId: string };
    expect(verified.sessionId).toBe('hooked');
    expect(headers['webhook-id']).toBe(verified.id);

    const deliveries = await eventually('the deliveries listed', async () => {
      const answer = await stack.api.request<{ deliveries: Delivery[] }>('GET', `/api/webhooks/${webhook.id}/deliveries?status=delivered&limit=10`);
      return answer.body.deliveries.length >= 2 ? answer.body.deliveries : undefined;
    });
    expect(deliveries.every((delivery) => delivery.status === 'delivered' && delivery.sessionId === 'hooked')).toBe(true);

    // Replay from before the first: both again.
    const before = receiver.requests.length;
    const replay = await stack.api.request<{ queued: number }>('POST', `/api/webhooks/${webhook.id}/replay`, {
      body: { sessionId: 'hooked', after: '0-0' },
    });
    expect(replay.status).toBe(202);
    expect(replay.body.queued).toBeGreaterThanOrEqual(2);
    await eventually('the replay delivered', async () => (receiver.requests.length >= before + 2 ? true : undefined), 30_000);

    const deleted = await stack.api.request<{ webhook: Webhook }>('DELETE', `/api/webhooks/${webhook.id}`);
    expect(deleted.status).toBe(200);
    expect((await stack.api.request<ErrorBody>('GET', `/api/webhooks/${webhook.id}`)).status).toBe(404);
  });

  it('answers the contract’s errors for bad input and unknown webhooks', async () => {
    for (const body of [{}, { url: 'not a url' }, { url: receiver.url, events: ['no_such_event'] }, { url: receiver.url, extra: 1 }]) {
      const answer = await stack.api.request<ErrorBody>('POST', '/api/webhooks', { body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.code).toBe('VALIDATION_FAILED');
    }
    expect((await stack.api.request<ErrorBody>('GET', '/api/webhooks/wh_doesnotexist1')).status).toBe(404);
    expect((await stack.api.request<ErrorBody>('GET', '/api/webhooks/not-an-id')).status).toBe(400);
    expect((await stack.api.request<ErrorBody>('PUT', '/api/webhooks')).status).toBe(405);
    expect((await stack.api.request<ErrorBody>('GET', '/api/webhooks', { apiKey: null })).status).toBe(401);
  });
});
