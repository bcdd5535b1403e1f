/** The REST function's CloudWatch embedded metrics: one EMF line per request, with the command it sent. */
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../contract/commands.js';
import { ServiceError } from '../../contract/errors.js';
import { digestOfKey } from '../../functions/config.js';
import { createApp } from '../../functions/http/app.js';
import type { ApiDependencies } from '../../functions/http/dependencies.js';
import { emfEnabled, emfLine, emfNamespace } from '../../functions/http/emf.js';
import { silentLogger } from '../support/redis.js';
import { unusedWebhooks } from '../support/fake-webhooks.js';

interface EmfDirective {
  Namespace: string;
  Dimensions: string[][];
  Metrics: Array<{ Name: string; Unit: string }>;
}

/**
 * Checks a line against the EMF specification: a JSON object with `_aws.Timestamp` (epoch ms) and
 * `_aws.CloudWatchMetrics` directives, each dimension and metric named at the root, metric values numbers (or
 * arrays of numbers), dimension values strings; at most 30 dimensions per set and 100 metrics per directive.
 */
function parseEmf(line: string): { root: Record<string, unknown>; directives: EmfDirective[] } {
  expect(line).not.toContain('\n');
  const root = JSON.parse(line) as Record<string, unknown>;
  const aws = root._aws as { Timestamp: unknown; CloudWatchMetrics: EmfDirective[] };
  expect(typeof aws.Timestamp).toBe('number');
  expect(Number.isInteger(aws.Timestamp)).toBe(true);
  expect(Array.isArray(aws.CloudWatchMetrics)).toBe(true);
  for (const directive of aws.CloudWatchMetrics) {
    expect(typeof directive.Namespace).toBe('string');
    expect(directive.Metrics.length).toBeGreaterThan(0);
    expect(directive.Metrics.length).toBeLessThanOrEqual(100);
    for (const set of directive.Dimensions) {
      expect(set.length).toBeLessThanOrEqual(30);
      for (const dimension of set) expect(typeof root[dimension], dimension).toBe('string');
    }
    for (const metric of directive.Metrics) {
      expect(['Count', 'Milliseconds']).toContain(metric.Unit);
      const value = root[metric.Name];
      const values = Array.isArray(value) ? value : [value];
      for (const item of values) expect(typeof item, metric.Name).toBe('number');
    }
  }
  return { root, directives: aws.CloudWatchMetrics };
}

const key = 'unit-key';
const now = new Date().toISOString();

function appEmitting(lines: string[], bus: ApiDependencies['bus']) {
  const record: SessionRecord = { id: 'alice', status: 'connected', engine: 'simulator', me: null, createdAt: now, updatedAt: now, lastError: null, qr: null };
  const deps: ApiDependencies = {
    config: { engine: 'simulator', apiKeyDigests: [digestOfKey(key)], commandTimeoutMs: 1_000 },
    logger: silentLogger(),
    ready: async () => undefined,
    ping: async () => true,
    directory: {
      get: async (id) => (id === 'alice' ? { record, ownerHostId: 'h1' } : null),
      page: async () => ({ entries: [{ record, ownerHostId: 'h1' }], next: null }),
      placeSession: async () => 'h1',
    },
    bus,
    idempotency: { run: async (_scope, _key, _request, action) => action() },
    sendRateLimiter: { take: async () => undefined },
    webhooks: unusedWebhooks,
  };
  return createApp(deps, { emitMetrics: (line) => lines.push(line) });
}

describe('EMF', () => {
  it('writes one line per request: route (declared path), method, status and latency', async () => {
    const lines: string[] = [];
    const app = appEmitting(lines, { request: async () => ({ chats: [] }) as never });
    expect((await app.request('/api/sessions/alice', { headers: { 'x-api-key': key } })).status).toBe(200);
    expect((await app.request('/api/sessions/nobody', { headers: { 'x-api-key': key } })).status).toBe(404);
    expect((await app.request('/api/sessions')).status).toBe(401);
    expect(lines).toHaveLength(3);
    const [read, missing, refused] = lines.map(parseEmf);
    expect(read!.directives).toEqual([
      {
        Namespace: emfNamespace,
        Dimensions: [['Route', 'Method', 'Status'], ['Route']],
        Metrics: [
          { Name: 'Requests', Unit: 'Count' },
          { Name: 'Latency', Unit: 'Milliseconds' },
        ],
      },
    ]);
    expect(read!.root).toMatchObject({ Route: '/api/sessions/{sessionId}', Method: 'GET', Status: '200', Requests: 1 });
    expect(read!.root.Latency).toBeGreaterThanOrEqual(0);
    expect(missing!.root).toMatchObject({ Route: '/api/sessions/{sessionId}', Status: '404' });
    expect(refused!.root).toMatchObject({ Route: '/api/sessions', Status: '401' });
  });

  it('adds the command a request sent, by type and outcome', async () => {
    const lines: string[] = [];
    let fail = false;
    const app = appEmitting(lines, {
      request: async () => {
        if (fail) throw new ServiceError('TIMEOUT', 'no answer');
        return { chats: [] } as never;
      },
    });
    expect((await app.request('/api/messages/alice/chats', { headers: { 'x-api-key': key } })).status).toBe(200);
    fail = true;
    expect((await app.request('/api/messages/alice/chats', { headers: { 'x-api-key': key } })).status).toBe(504);
    const [ok, timedOut] = lines.map(parseEmf);
    expect(ok!.directives[1]).toEqual({
      Namespace: emfNamespace,
      Dimensions: [['CommandType', 'CommandOutcome']],
      Metrics: [
        { Name: 'Commands', Unit: 'Count' },
        { Name: 'CommandLatency', Unit: 'Milliseconds' },
      ],
    });
    expect(ok!.root).toMatchObject({ Route: '/api/messages/{sessionId}/chats', Status: '200', CommandType: 'chats', CommandOutcome: 'ok', Commands: 1 });
    expect(timedOut!.root).toMatchObject({ Status: '504', CommandType: 'chats', CommandOutcome: 'TIMEOUT', Commands: 1 });
  });

  it('builds valid documents by itself, and is on in a deployed Lambda only (or when asked)', () => {
    const { root } = parseEmf(
      emfLine({ route: '/api/x', method: 'POST', status: 201, latencyMs: 1.234 }, [
        { type: 'send', outcome: 'ok', latencyMs: 3 },
        { type: 'send', outcome: 'ok', latencyMs: 4 },
      ], 1_700_000_000_000),
    );
    expect(root).toMatchObject({ _aws: { Timestamp: 1_700_000_000_000 }, Latency: 1.23, Commands: 2, CommandLatency: [3, 4] });
    expect(emfEnabled({})).toBe(false);
    expect(emfEnabled({ AWS_LAMBDA_FUNCTION_NAME: 'api' })).toBe(true);
    expect(emfEnabled({ AWS_LAMBDA_FUNCTION_NAME: 'api', IS_OFFLINE: 'true' })).toBe(false);
    expect(emfEnabled({ EMF_METRICS: 'true' })).toBe(true);
    expect(emfEnabled({ AWS_LAMBDA_FUNCTION_NAME: 'api', EMF_METRICS: 'false' })).toBe(false);
  });
});
