/**
 * GET /metrics of a real session host (simulator engine, HEALTH_PORT set) after real traffic through serverless
 * offline: two sessions log in by scan, message each other, one send is refused, a WebSocket client and a webhook
 * receive the events. The scrape must hold every series the contract names, with their labels.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../contract/api.js';
import { redisKeys } from '../../contract/redis-keys.js';
import { WebhookStore } from '../../lib/webhook-store.js';
import { freePort, waitFor } from '../../scripts/support/processes.js';
import { startReceiver, type Receiver } from '../integration/webhook-receiver.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { connectWebSocket, type TestWebSocket } from '../support/ws-client.js';

let stack: TestStack;
let healthPort: number;
let receiver: Receiver;
let redis: Redis;
let socket: TestWebSocket | undefined;

beforeAll(async () => {
  stack = await startTestStack({ hosts: 0 });
  healthPort = await freePort();
  await stack.startHost('host-m', { HEALTH_PORT: String(healthPort), WEBHOOK_ALLOW_PRIVATE: 'true' });
  receiver = await startReceiver();
  redis = new Redis(stack.redis.url);
});

afterAll(async () => {
  await socket?.close();
  redis?.disconnect();
  await receiver?.close();
  await stack?.stop();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type?.[1] !== undefined && type[2] !== undefined) types.set(type[1], type[2]);
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] === undefined || match[3] === undefined) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return { samples, types };
}

function value(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((sample) => sample.name === name && Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted))?.value;
}

async function scrape(): Promise<{ samples: Sample[]; types: Map<string, string>; contentType: string | null }> {
  const response = await fetch(`http://127.0.0.1:${healthPort}/metrics`);
  expect(response.status).toBe(200);
  return { ...parse(await response.text()), contentType: response.headers.get('content-type') };
}

async function statusOf(sessionId: string): Promise<Session['status'] | undefined> {
  const response = await stack.api.request<{ session: Session }>('GET', `/api/sessions/${sessionId}`);
  return response.status === 200 ? response.body.session.status : undefined;
}

describe('GET /metrics of a session host', () => {
  it('has every series the contract names, with their labels, after some traffic', async () => {
    const webhooks = new WebhookStore(redis, redisKeys(stack.keyPrefix), { allowPrivate: true });
    await webhooks.create({ url: receiver.url, sessions: ['bob'] });
    socket = await connectWebSocket(`${stack.offline.websocketUrl}/?apiKey=${stack.apiKey}`);

    for (const [sessionId, phone] of [['alice', '15550100001'], ['bob', '15550100002']] as const) {
      expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId } })).status).toBe(201);
      await waitFor(`${sessionId} in qr`, async () => ((await statusOf(sessionId)) === 'qr' ? true : undefined), 30_000);
      expect((await stack.api.request('POST', `/api/simulator/sessions/${sessionId}/scan`, { body: { phone } })).status).toBe(202);
      await waitFor(`${sessionId} connected`, async () => ((await statusOf(sessionId)) === 'connected' ? true : undefined), 30_000);
    }
    const sent = await stack.api.request('POST', '/api/messages/alice/send', { body: { chatId: '15550100002', text: 'metrics' } });
    expect(sent.status).toBe(201);
    // A scan of a session that shows no QR: refused by the host, counted under its code.
    const refused = await stack.api.request<{ error: { code: string } }>('POST', '/api/simulator/sessions/alice/scan', { body: {} });
    expect(refused.body.error.code).toBe('QR_NOT_AVAILABLE');
    await socket.waitFor((frame) => frame.event === 'message' && frame.sessionId === 'bob', 30_000);
    await waitFor('the webhook delivery', async () => (receiver.delivered().some((event) => event.event === 'message') ? true : undefined), 30_000);

    // Counters are bumped right after the post: give the last ones a moment.
    let scraped = await scrape();
    await waitFor(
      'the delivery counted',
      async () => {
        scraped = await scrape();
        return (value(scraped.samples, 'wa_webhook_deliveries_total', { outcome: 'delivered' }) ?? 0) > 0 ? true : undefined;
      },
      10_000,
    );
    const { samples, types, contentType } = scraped;
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const host = { host_id: 'host-m' };

    expect(types.get('wa_sessions')).toBe('gauge');
    expect(value(samples, 'wa_sessions', { ...host, engine: 'simulator', status: 'connected' })).toBe(2);
    expect(value(samples, 'wa_sessions', { ...host, engine: 'simulator', status: 'qr' })).toBe(0);

    expect(types.get('wa_commands_total')).toBe('counter');
    expect(value(samples, 'wa_commands_total', { ...host, type: 'create', outcome: 'ok' })).toBe(2);
    expect(value(samples, 'wa_commands_total', { ...host, type: 'engine.control', outcome: 'ok' })).toBeGreaterThanOrEqual(2);
    expect(value(samples, 'wa_commands_total', { ...host, type: 'send', outcome: 'ok' })).toBe(1);
    expect(value(samples, 'wa_commands_total', { ...host, type: 'engine.control', outcome: 'QR_NOT_AVAILABLE' })).toBe(1);
    expect(types.get('wa_command_duration_seconds')).toBe('histogram');
    expect(value(samples, 'wa_command_duration_seconds_count', { ...host, type: 'send', outcome: 'ok' })).toBe(1);
    expect(value(samples, 'wa_command_duration_seconds_bucket', { ...host, type: 'send', outcome: 'ok', le: '+Inf' })).toBe(1);
    expect(value(samples, 'wa_command_duration_seconds_sum', { ...host, type: 'create', outcome: 'ok' })).toBeGreaterThan(0);

    expect(types.get('wa_events_appended_total')).toBe('counter');
    expect(value(samples, 'wa_events_appended_total', { ...host, event: 'connection_update' })).toBeGreaterThanOrEqual(6);
    expect(value(samples, 'wa_events_appended_total', { ...host, event: 'message' })).toBeGreaterThanOrEqual(1);

    expect(types.get('wa_events_posted_total')).toBe('counter');
    expect(value(samples, 'wa_events_posted_total', { ...host, outcome: 'sent' })).toBeGreaterThan(0);
    expect(value(samples, 'wa_events_posted_total', { ...host, outcome: 'dropped' })).toBe(0);
    expect(value(samples, 'wa_events_posted_total', { ...host, outcome: 'gone' })).toBe(0);

    expect(types.get('wa_webhook_deliveries_total')).toBe('counter');
    expect(value(samples, 'wa_webhook_deliveries_total', { ...host, outcome: 'delivered' })).toBeGreaterThan(0);
    expect(value(samples, 'wa_webhook_deliveries_total', { ...host, outcome: 'dead' })).toBe(0);
    expect(value(samples, 'wa_webhook_deliveries_total', { ...host, outcome: 'retrying' })).toBe(0);

    // No webjs session on a simulator host: the gauge is declared, with no sample.
    expect(types.get('wa_browser_memory_bytes')).toBe('gauge');
    expect(samples.filter((sample) => sample.name === 'wa_browser_memory_bytes')).toEqual([]);
    // The process's own figures.
    expect(value(samples, 'process_resident_memory_bytes', host)).toBeGreaterThan(0);

    // /health is unchanged beside it.
    expect((await fetch(`http://127.0.0.1:${healthPort}/health`)).status).toBe(200);
  }, 120_000);
});
