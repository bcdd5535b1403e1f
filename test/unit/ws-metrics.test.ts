/** The WebSocket functions' embedded metrics: one EMF line per invocation, with the route and the status answered. */
import { describe, expect, it } from 'vitest';
import { withWsMetrics } from '../../functions/ws/metrics.js';

describe('WebSocket function metrics', () => {
  it('writes one EMF line per invocation with the route and the status, and passes the answer on', async () => {
    const lines: string[] = [];
    const handler = withWsMetrics(async () => ({ statusCode: 401 }), (line) => lines.push(line));
    expect(await handler({ requestContext: { connectionId: 'c1', routeKey: '$connect' } })).toEqual({ statusCode: 401 });
    const document = JSON.parse(lines[0] ?? '{}') as Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Namespace: string }> } };
    expect(document).toMatchObject({ Route: 'ws:$connect', Method: 'WS', Status: '401', Requests: 1 });
    expect(document._aws.CloudWatchMetrics[0]?.Namespace).toBe('whatsapp-service');
  });

  it('counts a handler that throws as a 500, and rethrows', async () => {
    const lines: string[] = [];
    const handler = withWsMetrics(async () => {
      throw new Error('boom');
    }, (line) => lines.push(line));
    await expect(handler({ requestContext: { connectionId: 'c1', routeKey: 'resume' } })).rejects.toThrow('boom');
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ Route: 'ws:resume', Status: '500' });
  });

  it('is the handler itself when metrics are off', async () => {
    const inner = async () => ({ statusCode: 200 });
    expect(withWsMetrics(inner, null)).toBe(inner);
  });
});
