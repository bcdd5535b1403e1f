/** The pusher's per-connection queue with fakes of its ports: order, resume seams, and frames that were dropped. */
import { describe, expect, it } from 'vitest';
import type { ServiceEvent } from '../../contract/events.js';
import type { PostOutcome } from '../../lib/connection-poster.js';
import { compareStreamIds, type EventListener } from '../../session-host/events/event-log.js';
import { EventPusher } from '../../session-host/events/event-pusher.js';
import { silentLogger } from '../support/redis.js';

function harness(outcomeOf: (eventId: string) => PostOutcome = () => 'sent') {
  const log: ServiceEvent[] = [];
  const listeners = new Set<EventListener>();
  const received: string[] = [];
  const pusher = new EventPusher({
    events: {
      onAppended: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      readAfter: async (_sessionId, after, count) => ({
        events: log.filter((event) => compareStreamIds(event.id, after) > 0).slice(0, count),
        expired: false,
      }),
    },
    connections: { recipients: async () => ['c1'], follow: async () => true, remove: async () => undefined },
    poster: {
      post: async (_connectionId, frame) => {
        const parsed = JSON.parse(frame) as { id?: string };
        const outcome = parsed.id === undefined ? 'sent' : outcomeOf(parsed.id);
        if (outcome === 'sent' && parsed.id !== undefined) received.push(parsed.id);
        return outcome;
      },
      close: () => undefined,
    },
    logger: silentLogger(),
    maxAttempts: 1,
  });
  pusher.start();
  const append = (sequence: number) => {
    const event: ServiceEvent = {
      id: `1000-${sequence}`,
      event: 'message_ack',
      sessionId: 's',
      timestamp: new Date().toISOString(),
      data: { messageId: `m${sequence}`, chatId: '1@c.us', ack: 'delivered' },
    };
    log.push(event);
    for (const listener of listeners) listener(event);
  };
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
  return { pusher, append, received, settle };
}

describe('event pusher', () => {
  it('delivers live events to a connection in order', async () => {
    const { append, received, settle } = harness();
    for (let sequence = 1; sequence <= 20; sequence += 1) append(sequence);
    await settle();
    expect(received).toEqual(Array.from({ length: 20 }, (_, index) => `1000-${index + 1}`));
  });

  it('replays a frame that was dropped live, and does not send twice what was sent', async () => {
    let failures = 0;
    // The live post of event 2 fails once (a client that was briefly unreachable); its replay goes through.
    const { pusher, append, received, settle } = harness((id) => (id === '1000-2' && failures++ === 0 ? 'failed' : 'sent'));
    append(1);
    append(2);
    append(3);
    await settle();
    expect(received).toEqual(['1000-1', '1000-3']);
    const outcome = await pusher.resume('c1', 's', '1000-1');
    expect(outcome.replayed).toBe(1);
    expect(received).toEqual(['1000-1', '1000-3', '1000-2']);
    append(4);
    await settle();
    expect(received.filter((id) => id === '1000-4')).toEqual(['1000-4']);
  });

  it('replays from the client’s point, skipping the span it was already sent live', async () => {
    const { pusher, append, received, settle } = harness();
    append(1);
    append(2);
    await settle();
    await pusher.resume('c1', 's', '1000-0');
    expect(received).toEqual(['1000-1', '1000-2']);
    append(3);
    await settle();
    await pusher.resume('c1', 's', '1000-1');
    expect(received).toEqual(['1000-1', '1000-2', '1000-3']);
  });
});
