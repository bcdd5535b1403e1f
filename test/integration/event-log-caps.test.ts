/**
 * Issue 15: the event log is capped by bytes as well as by length and age (append-event-3). Against a real Redis:
 * large events trim the oldest until the log holds no more than its byte cap (measured in Redis, with the log's own
 * byte count and MEMORY USAGE), the count and age caps still hold, a once-key still appends once, and a log made
 * again under an old session id starts its count afresh.
 */
import { describe, expect, it } from 'vitest';
import type { EventBody } from '../../contract/events.js';
import { EventLog } from '../../session-host/events/event-log.js';
import { useRedisServer } from '../support/redis.js';

const redis = useRedisServer();

function incoming(sessionId: string, text: string): EventBody {
  return {
    event: 'connection_update',
    sessionId,
    timestamp: new Date().toISOString(),
    data: { status: 'connected', qr: null, me: null, lastError: { code: 'X', message: text } },
  } as unknown as EventBody;
}

describe('event log caps', () => {
  it('keeps a session log under its byte cap, oldest events first, whatever their size', async () => {
    const client = redis.client();
    const keys = redis.keys();
    const maxBytes = 100 * 1024;
    const log = new EventLog(client, keys, { maxLength: 10_000, retentionMs: 3_600_000, maxBytes });
    const big = 'x'.repeat(20 * 1024);
    const ids: string[] = [];
    for (let index = 0; index < 40; index += 1) {
      const event = await log.append(incoming('big', `${index}:${big}`));
      ids.push(event?.id ?? '');
    }
    const counted = Number(await client.get(keys.eventBytes('big')));
    expect(counted).toBeLessThanOrEqual(maxBytes);
    expect(counted).toBeGreaterThan(maxBytes - 25 * 1024);
    const kept = await client.xrange(keys.events('big'), '-', '+');
    const real = kept.reduce((sum, [, fields]) => sum + Buffer.byteLength(fields[1] ?? ''), 0);
    expect(real).toBe(counted);
    // The newest are kept, in order; the oldest went.
    expect(kept.map(([id]) => id)).toEqual(ids.slice(-kept.length));
    expect(kept.length).toBe(4);
    const memory = Number(await client.call('MEMORY', 'USAGE', keys.events('big'), 'SAMPLES', '0'));
    expect(memory).toBeLessThan(maxBytes * 1.5);
    expect(await client.pttl(keys.eventBytes('big'))).toBeGreaterThan(0);
  });

  it('still trims by count and age, appends a once-key once, and restarts the count of a log made again', async () => {
    const client = redis.client();
    const keys = redis.keys();
    const log = new EventLog(client, keys, { maxLength: 5, retentionMs: 3_600_000, maxBytes: 1024 * 1024 });
    for (let index = 0; index < 12; index += 1) await log.append(incoming('count', `small-${index}`));
    expect(await client.xlen(keys.events('count'))).toBe(5);
    const bodies = (await client.xrange(keys.events('count'), '-', '+')).map(([, fields]) => fields[1] ?? '');
    expect(Number(await client.get(keys.eventBytes('count')))).toBe(bodies.reduce((sum, body) => sum + Buffer.byteLength(body), 0));

    expect(await log.append(incoming('once', 'first'), { onceKey: 'm1' })).not.toBeNull();
    expect(await log.append(incoming('once', 'again'), { onceKey: 'm1' })).toBeNull();
    expect(await client.xlen(keys.events('once'))).toBe(1);

    // Age: events older than the retention leave at the next append.
    const shortLived = new EventLog(client, keys, { maxLength: 100, retentionMs: 1_000, maxBytes: 1024 * 1024 });
    await shortLived.append(incoming('age', 'old-1'));
    await shortLived.append(incoming('age', 'old-2'));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await shortLived.append(incoming('age', 'new'));
    const left = await client.xrange(keys.events('age'), '-', '+');
    expect(left.map(([, fields]) => fields[1]?.includes('new'))).toEqual([true]);

    // A session deleted (its log removed, its count left behind) and made again: the count starts afresh.
    await client.del(keys.events('count'));
    await log.append(incoming('count', 'fresh'));
    const [[, fields] = ['', []]] = await client.xrange(keys.events('count'), '-', '+');
    expect(Number(await client.get(keys.eventBytes('count')))).toBe(Buffer.byteLength(fields[1] ?? ''));
  });
});
