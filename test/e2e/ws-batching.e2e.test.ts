/**
 * Batching through the real serverless offline WebSocket API: a connection with `?batch=1` receives `batch` frames
 * carrying the same events, in the same order, as a connection without it (which keeps one event per frame); frames
 * stay within the 32 KB batch limit (an event too large for it comes alone); a resume replays batched, then `resumed`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, Session } from '../../contract/api.js';
import { maxBatchFrameBytes } from '../../contract/ws-frames.js';
import { eventually } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { connectWebSocket, type ReceivedFrame, type TestWebSocket } from '../support/ws-client.js';

const sessionId = 'wsb-alice';
let stack: TestStack;
const sockets: TestWebSocket[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId } })).status).toBe(201);
  await eventually(`${sessionId} in qr`, async () => {
    const response = await stack.api.request<{ session: Session }>('GET', `/api/sessions/${sessionId}`);
    return response.body.session.status === 'qr' ? true : undefined;
  });
  expect((await stack.api.request('POST', `/api/simulator/sessions/${sessionId}/scan`, { body: { phone: '4915100000001' } })).status).toBe(202);
  await eventually(`${sessionId} connected`, async () => {
    const response = await stack.api.request<{ session: Session }>('GET', `/api/sessions/${sessionId}`);
    return response.body.session.status === 'connected' ? true : undefined;
  });
});

afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.close()));
  await stack?.stop();
});

async function open(query: string): Promise<TestWebSocket> {
  const socket = await connectWebSocket(`${stack.offline.websocketUrl}/?apiKey=${stack.apiKey}&${query}`);
  sockets.push(socket);
  return socket;
}

/** The events a client received, batches unpacked, in the order received. */
function eventsOf(frames: ReceivedFrame[]): ReceivedFrame[] {
  return frames.flatMap((frame) => (frame.event === 'batch' ? (frame.events as ReceivedFrame[]) : typeof frame.id === 'string' ? [frame] : []));
}

const bodyOf = (frame: ReceivedFrame) => (frame.data as Message | undefined)?.body;

/** Raises `texts` as incoming messages, `parallel` at a time (so that events queue up behind a post). */
async function inject(texts: string[], parallel = 8): Promise<void> {
  for (let start = 0; start < texts.length; start += parallel) {
    await Promise.all(
      texts.slice(start, start + parallel).map(async (text) => {
        const response = await stack.api.request('POST', `/api/simulator/sessions/${sessionId}/incoming`, { body: { from: '4930123456', text } });
        expect(response.status).toBe(202);
      }),
    );
  }
}

describe('WebSocket batching end to end', () => {
  it('sends a batching connection the same events in the same order as a plain one, within the frame limits', async () => {
    const batched = await open(`sessionId=${sessionId}&batch=1`);
    const plain = await open(`sessionId=${sessionId}`);
    const texts = Array.from({ length: 80 }, (_, index) => `small-${index}`);
    // Events near the limits: ~20 KB (two cannot share a frame), ~31 KB (alone in a batch or alone as a plain frame),
    // ~40 KB (too large for a batch frame: alone, as a plain event frame).
    texts.splice(10, 0, `big-20k-${'a'.repeat(20_000)}`, `big-20k-${'b'.repeat(20_000)}`);
    texts.splice(30, 0, `big-31k-${'c'.repeat(maxBatchFrameBytes - 1_200)}`, `big-40k-${'d'.repeat(40_000)}`);
    await inject(texts);
    // Injected 8 at a time, the texts need not be raised in order: wait until both clients have every one of them,
    // and as many events each.
    const hasAll = (socket: TestWebSocket) => {
      const bodies = new Set(eventsOf(socket.frames).map(bodyOf));
      return texts.every((text) => bodies.has(text));
    };
    await eventually(
      'both clients have every event',
      async () => (hasAll(plain) && hasAll(batched) && eventsOf(plain.frames).length === eventsOf(batched.frames).length ? true : undefined),
      30_000,
    );

    const plainIds = eventsOf(plain.frames).map((frame) => frame.id);
    const batchedIds = eventsOf(batched.frames).map((frame) => frame.id);
    expect(batchedIds).toEqual(plainIds);
    expect(new Set(batchedIds).size).toBe(batchedIds.length);
    expect(eventsOf(plain.frames).filter((frame) => String(bodyOf(frame)).startsWith('small-') || String(bodyOf(frame)).startsWith('big-'))).toHaveLength(texts.length);
    // The plain client: one event per frame, no batch frame.
    expect(plain.frames.some((frame) => frame.event === 'batch')).toBe(false);
    // The batching client: batch frames within the limit; only the event too large for one came as a plain frame.
    for (const frame of batched.frames) {
      const bytes = Buffer.byteLength(JSON.stringify(frame));
      if (frame.event === 'batch') expect(bytes).toBeLessThanOrEqual(maxBatchFrameBytes);
    }
    const plainInBatched = batched.frames.filter((frame) => frame.event === 'message');
    expect(plainInBatched.map((frame) => String(bodyOf(frame)).slice(0, 8))).toEqual(['big-40k-']);
    expect(batched.frames.filter((frame) => frame.event === 'batch').length).toBeLessThan(batchedIds.length);
  });

  it('replays a batching connection in batch frames, then `resumed`, without gap or duplicate', async () => {
    const witness = await open(`sessionId=${sessionId}`);
    const first = await open(`sessionId=${sessionId}&batch=1`);
    await inject(['before-1', 'before-2']);
    await eventually('the first client has before-2', async () => (eventsOf(first.frames).some((frame) => bodyOf(frame) === 'before-2') ? true : undefined));
    const lastSeen = String(eventsOf(first.frames).at(-1)?.id);
    first.terminate();

    await inject(Array.from({ length: 30 }, (_, index) => `missed-${index}`));
    const second = await open('sessionId=wsb-quiet&batch=1');
    const during = inject(Array.from({ length: 20 }, (_, index) => `during-${index}`), 4);
    second.send({ action: 'resume', sessionId, after: lastSeen });
    await during;
    await inject(['after-1']);
    await eventually('the resumed client has after-1', async () => (eventsOf(second.frames).some((frame) => bodyOf(frame) === 'after-1') ? true : undefined), 30_000);
    await witness.waitFor((frame) => bodyOf(frame) === 'after-1', 15_000);
    // On a slow machine the replay may start after every event was appended: then `resumed` comes after all of them.
    await second.waitFor((frame) => frame.event === 'resumed', 15_000);

    const expected = eventsOf(witness.frames)
      .map((frame) => String(frame.id))
      .filter((id) => compareIds(id, lastSeen) > 0);
    const received = eventsOf(second.frames).map((frame) => String(frame.id));
    expect(received).toEqual(expected);
    expect(received.length).toBe(51);
    const resumedAt = second.frames.findIndex((frame) => frame.event === 'resumed');
    expect(second.frames.filter((frame) => frame.event === 'resumed')).toHaveLength(1);
    const replayFrames = second.frames.slice(0, resumedAt);
    expect(replayFrames.every((frame) => frame.event === 'batch')).toBe(true);
    expect(eventsOf(replayFrames).length).toBe(second.frames[resumedAt]?.replayed);
    expect(replayFrames.length).toBeLessThan(30);
  });
});

function compareIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs === bMs ? aSeq - bSeq : aMs - bMs;
}
