/**
 * The pusher's per-connection queue with fakes of its ports: order, resume seams, frames that were dropped, and
 * replays that end with their connection (gone or slow) without holding anything else up.
 */
import { describe, expect, it } from 'vitest';
import type { ServiceEvent } from '../../contract/events.js';
import type { PostOutcome } from '../../lib/connection-poster.js';
import { compareStreamIds, type EventListener } from '../../session-host/events/event-log.js';
import { EventPusher, frameOf, maxFrameBytes } from '../../session-host/events/event-pusher.js';
import { batchFrameSchema, maxBatchFrameBytes } from '../../contract/ws-frames.js';
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

describe('event pusher, batching connections', () => {
  /** A connection `c1` that asked for batching; each post takes `postMs`, and posts are checked never to overlap. */
  function batchHarness(options: { batching?: boolean; postMs?: number; outcomeOf?: (frame: string, index: number) => PostOutcome } = {}) {
    const log: ServiceEvent[] = [];
    const listeners = new Set<EventListener>();
    const frames: string[] = [];
    let inFlight = 0;
    let overlapped = false;
    let posts = 0;
    const pusher = new EventPusher({
      events: {
        onAppended: (listener) => {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
        readAfter: async (sessionId, after, count) => ({
          events: log.filter((event) => event.sessionId === sessionId && compareStreamIds(event.id, after) > 0).slice(0, count),
          expired: false,
        }),
      },
      connections: {
        recipients: async () => ['c1'],
        follow: async () => true,
        remove: async () => undefined,
        batching: async () => options.batching ?? true,
      },
      poster: {
        post: async (_connectionId, frame) => {
          inFlight += 1;
          if (inFlight > 1) overlapped = true;
          await new Promise((resolve) => setTimeout(resolve, options.postMs ?? 1));
          inFlight -= 1;
          const outcome = options.outcomeOf?.(frame, posts) ?? 'sent';
          posts += 1;
          if (outcome === 'sent') frames.push(frame);
          return outcome;
        },
        close: () => undefined,
      },
      logger: silentLogger(),
      maxAttempts: 1,
    });
    pusher.start();
    let sequence = 0;
    const append = (body = 'hello', sessionId = 's') => {
      sequence += 1;
      const timestamp = new Date().toISOString();
      const event: ServiceEvent = {
        id: `1000-${sequence}`,
        event: 'message',
        sessionId,
        timestamp,
        data: {
          id: `m${sequence}`,
          chatId: '1@c.us',
          from: '1@c.us',
          to: '2@c.us',
          fromMe: false,
          type: 'chat',
          body,
          timestamp,
          ack: 'delivered',
          sender: { id: '1@c.us', lid: null, phone: '1' },
          quotedMessageId: null,
          media: null,
          location: null,
        },
      };
      log.push(event);
      for (const listener of listeners) listener(event);
      return event.id;
    };
    /** The event ids the client received, in order, batches unpacked. */
    const ids = () =>
      frames.flatMap((frame) => {
        const parsed = JSON.parse(frame) as { event: string; id?: string; events?: Array<{ id: string }> };
        if (parsed.event === 'batch') return (parsed.events ?? []).map((event) => event.id);
        return parsed.id === undefined ? [] : [parsed.id];
      });
    const drain = async () => {
      for (let waited = 0; waited < 5_000; waited += 20) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        if (inFlight === 0 && ids().length >= sequence) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 30));
    };
    return { pusher, append, frames, ids, drain, overlapped: () => overlapped, expected: () => Array.from({ length: sequence }, (_, index) => `1000-${index + 1}`) };
  }

  it('sends events queued behind a post together, in order, in batch frames, never two posts at once', async () => {
    const { append, frames, ids, drain, overlapped, expected } = batchHarness({ postMs: 5 });
    const bySession = new Map<string, string[]>([['s', []], ['s2', []]]);
    for (let index = 0; index < 300; index += 1) {
      const sessionId = index % 3 === 0 ? 's2' : 's';
      bySession.get(sessionId)?.push(append(`event ${index}`, sessionId));
    }
    await drain();
    // In order within each session (sessions are dispatched independently), every event once.
    const received = ids();
    for (const sessionIds of bySession.values()) expect(received.filter((id) => sessionIds.includes(id))).toEqual(sessionIds);
    expect([...received].sort(compareStreamIds)).toEqual(expected());
    expect(overlapped()).toBe(false);
    expect(frames.length).toBeLessThan(300);
    for (const frame of frames) {
      const parsed = batchFrameSchema.safeParse(JSON.parse(frame));
      expect(parsed.success).toBe(true);
    }
  });

  it('keeps every frame within the 32 KB batch limit, and sends an event too large for it alone (truncated at 128 KB)', async () => {
    const { append, frames, ids, drain, expected } = batchHarness({ postMs: 5 });
    const overhead = Buffer.byteLength(frameOfBody('')) + Buffer.byteLength('{"event":"batch","events":[]}');
    // Bodies around the limit: one that just fits alone, one a byte over, two halves, and one over 128 KB.
    const sizes = [10, maxBatchFrameBytes - overhead, maxBatchFrameBytes - overhead + 1, 16_000, 16_000, 200_000, 5, maxBatchFrameBytes / 2, 7];
    for (const size of sizes) append('x'.repeat(size));
    for (let index = 0; index < 200; index += 1) append(`small ${index}`);
    await drain();
    expect(ids()).toEqual(expected());
    for (const frame of frames) {
      const parsed = JSON.parse(frame) as { event: string; truncated?: boolean };
      const bytes = Buffer.byteLength(frame);
      if (parsed.event === 'batch') expect(bytes).toBeLessThanOrEqual(maxBatchFrameBytes);
      else {
        expect(bytes).toBeGreaterThan(maxBatchFrameBytes - Buffer.byteLength('{"event":"batch","events":[]}'));
        expect(bytes).toBeLessThanOrEqual(maxFrameBytes);
      }
    }
    const plain = frames.map((frame) => JSON.parse(frame) as { event: string; truncated?: boolean }).filter((frame) => frame.event !== 'batch');
    expect(plain).toHaveLength(2);
    expect(plain.filter((frame) => frame.truncated === true)).toHaveLength(1);
    // The one that just fits alone went in a batch of its own.
    const justFits = frames.find((frame) => frame.includes('"1000-2"'));
    expect(justFits?.startsWith('{"event":"batch"')).toBe(true);
  });

  it('replays batched, with `resumed` after, and neither loses nor repeats an event across the resume', async () => {
    // One live batch fails (the client was briefly unreachable); the client resumes after the last event it has before
    // the hole, and the replay sends the hole only, batched (what came after the hole was sent and is remembered).
    const failed = new Set<string>();
    const failOnce = (frame: string, marker: string) => {
      if (!frame.includes(marker) || failed.has(marker)) return false;
      failed.add(marker);
      return true;
    };
    const { pusher, append, frames, ids, drain, expected } = batchHarness({
      postMs: 2,
      outcomeOf: (frame) => (failOnce(frame, '"live 35"') ? 'failed' : 'sent'),
    });
    for (let index = 0; index < 100; index += 1) {
      append(`live ${index}`);
      if (index % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await drain();
    expect(failed.size).toBe(1);
    const before = ids();
    expect(before.length).toBeLessThan(100);
    const lastBeforeHole = before.find((_id, index) => before[index + 1] !== `1000-${index + 2}`) ?? '0-0';
    const resumeAt = frames.length;
    const resumed = pusher.resume('c1', 's', lastBeforeHole);
    for (let index = 0; index < 50; index += 1) append(`during ${index}`);
    const outcome = await resumed;
    await drain();
    expect(outcome.replayed).toBeGreaterThan(0);
    const all = ids();
    expect(new Set(all).size).toBe(all.length);
    expect([...all].sort(compareStreamIds)).toEqual(expected());
    const after = frames.slice(resumeAt).map((frame) => JSON.parse(frame) as { event: string; events?: unknown[] });
    const resumedAt = after.findIndex((frame) => frame.event === 'resumed');
    expect(resumedAt).toBeGreaterThan(0);
    expect(after.slice(0, resumedAt).every((frame) => frame.event === 'batch')).toBe(true);
    const replayedInFrames = after.slice(0, resumedAt).reduce((sum, frame) => sum + (frame.events?.length ?? 0), 0);
    expect(replayedInFrames).toBe(outcome.replayed);
    // The hole, and the events raised while the resume was queued (read from the log, not sent again live).
    expect(outcome.replayed).toBe(100 - before.length + 50);
    expect(resumedAt).toBeLessThanOrEqual(outcome.replayed);
  });

  it('keeps one event per frame for a connection that did not ask for batching', async () => {
    const { append, frames, ids, drain, expected } = batchHarness({ batching: false, postMs: 3 });
    for (let index = 0; index < 40; index += 1) append(`event ${index}`);
    await drain();
    expect(ids()).toEqual(expected());
    expect(frames).toHaveLength(40);
    expect(frames.every((frame) => (JSON.parse(frame) as { event: string }).event === 'message')).toBe(true);
  });
});

/** The frame of a message event with this body, as the batch harness raises it (for size arithmetic). */
function frameOfBody(body: string): string {
  const timestamp = new Date().toISOString();
  return frameOf({
    id: '1000-2',
    event: 'message',
    sessionId: 's',
    timestamp,
    data: {
      id: 'm2',
      chatId: '1@c.us',
      from: '1@c.us',
      to: '2@c.us',
      fromMe: false,
      type: 'chat',
      body,
      timestamp,
      ack: 'delivered',
      sender: { id: '1@c.us', lid: null, phone: '1' },
      quotedMessageId: null,
      media: null,
      location: null,
    },
  });
}
