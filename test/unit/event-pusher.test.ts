/**
 * The pusher's per-connection queue with fakes of its ports: order, resume seams, frames that were dropped, and
 * replays that end with their connection (gone or slow) without holding anything else up.
 */
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

  it('answers a resume with a `resumed` frame after the last replayed event', async () => {
    const frames: Array<Record<string, unknown>> = [];
    const { pusher, append, settle } = harness();
    const spy = pusherFrames(pusher, frames);
    append(1);
    append(2);
    await settle();
    frames.length = 0;
    const outcome = await pusher.resume('c1', 's', '1000-0');
    expect(outcome).toEqual({ replayed: 0, expired: false });
    expect(frames.at(-1)).toEqual({ event: 'resumed', sessionId: 's', replayed: 0, expired: false });
    spy.restore();
  });
});

/** Records every frame the pusher posts (a wrapper around the harness's poster). */
function pusherFrames(pusher: EventPusher, into: Array<Record<string, unknown>>): { restore: () => void } {
  const options = (pusher as unknown as { options: { poster: { post: (c: string, f: string) => Promise<PostOutcome> } } }).options;
  const original = options.poster.post;
  options.poster.post = async (connectionId, frame) => {
    const outcome = await original(connectionId, frame);
    if (outcome === 'sent') into.push(JSON.parse(frame) as Record<string, unknown>);
    return outcome;
  };
  return { restore: () => (options.poster.post = original) };
}

/** A log of `count` events of session `s`, and a pusher whose poster the test drives per connection. */
function replayHarness(count: number, postTo: (connectionId: string, frame: Record<string, unknown>) => Promise<PostOutcome>) {
  const log: ServiceEvent[] = Array.from({ length: count }, (_, index) => ({
    id: `1000-${index + 1}`,
    event: 'message_ack' as const,
    sessionId: 's',
    timestamp: new Date().toISOString(),
    data: { messageId: `m${index + 1}`, chatId: '1@c.us', ack: 'delivered' as const },
  }));
  const listeners = new Set<EventListener>();
  const removed: string[] = [];
  const recipients = new Set<string>();
  const pusher = new EventPusher({
    events: {
      onAppended: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      readAfter: async (_sessionId, after, limit) => ({
        events: log.filter((event) => compareStreamIds(event.id, after) > 0).slice(0, limit),
        expired: false,
      }),
    },
    connections: {
      recipients: async () => [...recipients],
      follow: async () => true,
      remove: async (connectionId) => {
        removed.push(connectionId);
      },
    },
    poster: { post: (connectionId, frame) => postTo(connectionId, JSON.parse(frame) as Record<string, unknown>), close: () => undefined },
    logger: silentLogger(),
    maxAttempts: 1,
  });
  pusher.start();
  let next = count + 1;
  const appendLive = (sessionId: string) => {
    const event: ServiceEvent = {
      id: `2000-${next++}`,
      event: 'message_ack',
      sessionId,
      timestamp: new Date().toISOString(),
      data: { messageId: 'live', chatId: '1@c.us', ack: 'read' },
    };
    for (const listener of listeners) listener(event);
    return event.id;
  };
  return { pusher, removed, recipients, appendLive };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let tries = 0; !check(); tries += 1) {
    if (tries > 2_000) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('event pusher: replays end with their connection', () => {
  it('settles a resume whose connection goes away mid-replay, forgets the connection, and takes the next resume', async () => {
    let posted = 0;
    let gone = true;
    const { pusher, removed } = replayHarness(2_000, async () => {
      posted += 1;
      return gone && posted > 100 ? 'gone' : 'sent';
    });
    const first = pusher.resume('c1', 's', '0-0');
    await expect(first).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(posted).toBe(101);
    expect(removed).toEqual(['c1']);
    // The same connection id (API Gateway reuses none, but a test may): its queue works again, a resume ends.
    gone = false;
    await expect(pusher.resume('c1', 's', '1000-1990')).resolves.toEqual({ replayed: 10, expired: false });
  });

  it('settles every resume queued behind the one whose connection went away', async () => {
    const { pusher } = replayHarness(300, async (_connectionId, frame) => (frame.id === '1000-50' ? 'gone' : 'sent'));
    const outcomes = await Promise.allSettled([pusher.resume('c1', 's', '0-0'), pusher.resume('c1', 's', '1000-10'), pusher.resume('c1', 's', '1000-20')]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
  });

  it('ends the replay of a connection whose frames keep failing, and tells it with an error frame naming the resume', async () => {
    const frames: Array<Record<string, unknown>> = [];
    let failing = false;
    const { pusher } = replayHarness(1_000, async (_connectionId, frame) => {
      if (frame.id === '1000-40') failing = true;
      if (failing && frame.event !== 'error') return 'failed';
      frames.push(frame);
      return 'sent';
    });
    await expect(pusher.resume('c1', 's', '0-0')).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(frames.filter((frame) => frame.event === 'message_ack')).toHaveLength(39);
    expect(frames.at(-1)).toMatchObject({ event: 'error', sessionId: 's', action: 'resume', data: { code: 'SERVICE_UNAVAILABLE' } });
  });

  it('answers a replay that cannot read the log with an error frame, and settles', async () => {
    const frames: Array<Record<string, unknown>> = [];
    const { pusher } = replayHarness(10, async (_connectionId, frame) => {
      frames.push(frame);
      return 'sent';
    });
    (pusher as unknown as { options: { events: { readAfter: () => Promise<never> } } }).options.events.readAfter = () =>
      Promise.reject(new Error('Redis went away'));
    await expect(pusher.resume('c1', 's', '0-0')).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(frames).toEqual([{ event: 'error', sessionId: 's', action: 'resume', data: { code: 'INTERNAL', message: expect.any(String) } }]);
  });

  it('keeps delivering live events to other connections while one connection replays slowly', async () => {
    const gate: Array<() => void> = [];
    const toC2: string[] = [];
    let c1Posts = 0;
    let slow = true;
    const { pusher, recipients, appendLive } = replayHarness(5_000, async (connectionId, frame) => {
      if (connectionId === 'c1') {
        c1Posts += 1;
        // The slow client: each frame waits until the test lets it through.
        if (slow) await new Promise<void>((resolve) => gate.push(resolve));
        return 'sent';
      }
      if (typeof frame.id === 'string') toC2.push(frame.id);
      return 'sent';
    });
    recipients.add('c1');
    recipients.add('c2');
    const replay = pusher.resume('c1', 's', '0-0');
    await until('the replay to start', () => gate.length === 1);
    const live = [appendLive('s'), appendLive('other'), appendLive('s')];
    await until('c2 to get the live events', () => toC2.length === 3);
    expect(toC2).toEqual(live);
    expect(c1Posts).toBe(1);
    // Let the slow replay finish.
    slow = false;
    releaseAll(gate);
    await expect(replay).resolves.toEqual({ replayed: 5_000, expired: false });
    await pusher.stop(1_000);
  });

  it('refuses new resumes and ends those running once stopped', async () => {
    const gate: Array<() => void> = [];
    const { pusher } = replayHarness(100, async () => {
      await new Promise<void>((resolve) => gate.push(resolve));
      return 'sent';
    });
    const running = pusher.resume('c1', 's', '0-0');
    const queued = pusher.resume('c1', 's', '1000-50');
    await until('the replay to start', () => gate.length === 1);
    const stopping = pusher.stop(50);
    const drain = setInterval(() => releaseAll(gate), 5);
    await stopping;
    await expect(queued).rejects.toMatchObject({ code: 'SESSION_HOST_UNAVAILABLE' });
    await expect(running).rejects.toMatchObject({ code: 'SESSION_HOST_UNAVAILABLE' });
    await expect(pusher.resume('c2', 's', '0-0')).rejects.toMatchObject({ code: 'SESSION_HOST_UNAVAILABLE' });
    clearInterval(drain);
  });
});

/** Lets every held post or replay step go on. */
function releaseAll(held: Array<() => void>): void {
  for (const release of held.splice(0)) release();
}
