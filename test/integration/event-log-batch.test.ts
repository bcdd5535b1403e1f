/**
 * A burst of one session's events appended in one round trip (EventLog.appendMany), against a real Redis: the events
 * get increasing ids in the order given, each once-key appends once, listeners hear them in order, and the log's caps
 * hold as with single appends.
 */
import { describe, expect, it } from 'vitest';
import type { EventBody, ServiceEvent } from '../../contract/events.js';
import { compareStreamIds, EventLog } from '../../session-host/events/event-log.js';
import { useRedisServer } from '../support/redis.js';

const redis = useRedisServer();

function ack(sessionId: string, n: number): EventBody {
  return { event: 'message_ack', sessionId, timestamp: new Date().toISOString(), data: { messageId: `m${n}`, chatId: '1@c.us', ack: 'read' } };
}

const messageIdOf = (event: ServiceEvent | EventBody | null) => (event !== null && event.event === 'message_ack' ? event.data.messageId : null);

describe('event log bursts', () => {
  it('appends in order with increasing ids, each once-key once, and raises what it appended in order', async () => {
    const log = new EventLog(redis.client(), redis.keys(), { maxLength: 5, retentionMs: 3_600_000 });
    const heard: ServiceEvent[] = [];
    log.onAppended((event) => heard.push(event));
    await log.append(ack('s', 0), { onceKey: 'k1' });
    const results = await log.appendMany([
      { body: ack('s', 1), onceKey: 'k1' },
      { body: ack('s', 2) },
      { body: ack('s', 3), onceKey: 'k3' },
      { body: ack('s', 4), onceKey: 'k3' },
      { body: ack('s', 5) },
      { body: ack('s', 6) },
      { body: ack('s', 7) },
    ]);
    expect(results.map(messageIdOf)).toEqual([null, 'm2', 'm3', null, 'm5', 'm6', 'm7']);
    const ids = results.filter((event): event is ServiceEvent => event !== null).map((event) => event.id);
    expect([...ids].sort(compareStreamIds)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(heard.map(messageIdOf)).toEqual(['m0', 'm2', 'm3', 'm5', 'm6', 'm7']);
    // The length cap (5) held across the burst: m0 left.
    const { events } = await log.readAfter('s', '0-0', 100);
    expect(events.map(messageIdOf)).toEqual(['m2', 'm3', 'm5', 'm6', 'm7']);
  });
});
