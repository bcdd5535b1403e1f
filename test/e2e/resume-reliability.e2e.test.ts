/**
 * Resume against real processes (Redis, serverless offline, a session host on the simulator), with thousands of
 * events in a session's log: a client that leaves mid-replay freezes nothing, a long replay does not hold up the
 * session's own commands, `resumed` says what was replayed, and a second process under a live HOST_ID is refused.
 * Ordering and outcomes are asserted, never wall-clock times (those are printed, for the record).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../contract/api.js';
import { redisKeys } from '../../contract/redis-keys.js';
import { freePort, startProcess, type ManagedProcess } from '../../scripts/support/processes.js';
import { sessionHostArgs } from '../../scripts/support/stack.js';
import { eventually } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { connectWebSocket, type ReceivedFrame, type TestWebSocket } from '../support/ws-client.js';

const sessionId = 'replayer';
/** Events put in the session's log before the tests: the long replay of the issue. */
const logged = 6_000;

let stack: TestStack;
let redis: Redis;
let healthUrl: string;
const sockets: TestWebSocket[] = [];
const extraProcesses: ManagedProcess[] = [];

beforeAll(async () => {
  stack = await startTestStack({ hosts: 0 });
  const healthPort = await freePort();
  healthUrl = `http://127.0.0.1:${healthPort}/health`;
  // Two command slots: with replays in the command queue, two clients leaving mid-replay used to take the host down.
  // Loopback: the operator's own port, so the details are asked for (issue 15).
  await stack.startHost('host-1', { HEALTH_PORT: String(healthPort), HEALTH_DETAILS: 'true', COMMAND_CONCURRENCY: '2' });
  redis = new Redis(stack.redis.url);
  expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId } })).status).toBe(201);
  await eventually('the QR', async () => ((await session()).status === 'qr' ? true : undefined));
  expect((await stack.api.request('POST', `/api/simulator/sessions/${sessionId}/scan`, { body: { phone: '15550300001' } })).status).toBe(202);
  await eventually('connected', async () => ((await session()).status === 'connected' ? true : undefined));
  // Thousands of events, cheaply: XADDs in the log's own format (what the host appends for message acks).
  const pipeline = redis.pipeline();
  for (let index = 1; index <= logged; index += 1) {
    const body = { event: 'message_ack', sessionId, timestamp: new Date().toISOString(), data: { messageId: `m${index}`, chatId: '15550300002@c.us', ack: 'read' } };
    pipeline.xadd(redisKeys(stack.keyPrefix).events(sessionId), '*', 'e', JSON.stringify(body));
  }
  await pipeline.exec();
});

afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.close()));
  await Promise.all(extraProcesses.map((process) => process.stop(5_000)));
  redis?.disconnect();
  await stack?.stop();
});

async function session(): Promise<Session> {
  return (await stack.api.request<{ session: Session }>('GET', `/api/sessions/${sessionId}`)).body.session;
}

async function open(query: string): Promise<TestWebSocket> {
  const socket = await connectWebSocket(`${stack.offline.websocketUrl}/?apiKey=${stack.apiKey}&${query}`);
  sockets.push(socket);
  return socket;
}

const ofSession = (frame: ReceivedFrame) => frame.sessionId === sessionId && typeof frame.id === 'string';

async function health(): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(healthUrl);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('resume under real processes', () => {
  it('a client that leaves mid-replay leaves the session answering and the host healthy', async () => {
    // More clients leaving mid-replay than the host has command slots.
    for (let round = 1; round <= 3; round += 1) {
      const socket = await open('sessionId=quiet');
      socket.send({ action: 'resume', sessionId, after: '0-0' });
      // The first action of a file may meet a cold WebSocket function: give it time (a bound on failure, not a measure).
      await eventually('part of the replay', async () => (socket.frames.filter(ofSession).length >= 100 ? true : undefined), 60_000);
      socket.terminate();
      // Right after: the session's reads and sends are answered.
      const chats = await stack.api.request('GET', `/api/messages/${sessionId}/chats`);
      expect(chats.status).toBe(200);
      const sent = await stack.api.request('POST', `/api/messages/${sessionId}/send`, { body: { chatId: '15550300002', text: `after drop ${round}` } });
      expect(sent.status).toBe(201);
    }
    const answer = await health();
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'ok', problem: null });
    // And a new client's resume still completes.
    const last = (await redis.xrevrange(redisKeys(stack.keyPrefix).events(sessionId), '+', '-', 'COUNT', 5)).at(-1)![0];
    const socket = await open('sessionId=quiet');
    socket.send({ action: 'resume', sessionId, after: last });
    const resumed = await socket.waitFor((frame) => frame.event === 'resumed', 30_000);
    // At least the four events after `last`; more when an ack of the last send was appended meanwhile (it then is
    // part of the replay): `replayed` counts exactly the events the replay sent before it.
    const replayedFrames = socket.frames.slice(0, socket.frames.indexOf(resumed)).filter(ofSession);
    expect(resumed).toEqual({ event: 'resumed', sessionId, replayed: replayedFrames.length, expired: false });
    expect(replayedFrames.length).toBeGreaterThanOrEqual(4);
  });

  it('a long replay does not hold up the session’s sends, and `resumed` comes after it with the counts', async () => {
    const socket = await open('sessionId=quiet');
    const started = Date.now();
    socket.send({ action: 'resume', sessionId, after: '0-0' });
    await eventually('the replay to start', async () => (socket.frames.some(ofSession) ? true : undefined));
    // A send while the replay runs: answered before the replay ends.
    const sendStarted = Date.now();
    const sent = await stack.api.request('POST', `/api/messages/${sessionId}/send`, { body: { chatId: '15550300002', text: 'during the replay' } });
    const sendMs = Date.now() - sendStarted;
    expect(sent.status).toBe(201);
    expect(socket.frames.some((frame) => frame.event === 'resumed')).toBe(false);
    const chats = await stack.api.request('GET', `/api/messages/${sessionId}/chats`);
    expect(chats.status).toBe(200);
    expect(socket.frames.some((frame) => frame.event === 'resumed')).toBe(false);

    const resumed = await socket.waitFor((frame) => frame.event === 'resumed', 120_000);
    const replayMs = Date.now() - started;
    const before = socket.frames.slice(0, socket.frames.indexOf(resumed)).filter(ofSession).map((frame) => String(frame.id));
    expect(resumed).toEqual({ event: 'resumed', sessionId, replayed: before.length, expired: false });
    // Exactly the log, in order, from the start up to the last replayed id.
    const log = (await redis.xrange(redisKeys(stack.keyPrefix).events(sessionId), '-', '+')).map(([id]) => id);
    expect(before).toEqual(log.slice(0, before.length));
    expect(before.length).toBeGreaterThanOrEqual(logged);
    process.stdout.write(`replayed ${before.length} events in ${replayMs} ms; a send during the replay took ${sendMs} ms\n`);
    expect((await health()).status).toBe(200);
  });

  it('an error frame names the session and the action it answers', async () => {
    const socket = await open('sessionId=quiet');
    socket.send({ action: 'resume', sessionId: 'nobody-here', after: '1-0' });
    expect(await socket.waitFor((frame) => frame.event === 'error')).toEqual({
      event: 'error',
      sessionId: 'nobody-here',
      action: 'resume',
      data: { code: 'SESSION_NOT_FOUND', message: expect.any(String) },
    });
    const from = socket.frames.length;
    socket.send({ action: 'resume', sessionId, after: 'yesterday' });
    expect(await socket.waitFor((frame) => frame.event === 'error', 10_000, from)).toMatchObject({ sessionId, action: 'resume', data: { code: 'VALIDATION_FAILED' } });
    const next = socket.frames.length;
    socket.send({ action: 'dance' });
    const unknown = await socket.waitFor((frame) => frame.event === 'error', 10_000, next);
    expect(unknown).toEqual({ event: 'error', data: { code: 'UNKNOWN_ACTION', message: expect.any(String) } });
  });

  it('refuses a second process under a live HOST_ID; the first keeps running its sessions', async () => {
    const duplicate = startProcess({
      name: 'session-host:duplicate',
      command: process.execPath,
      args: sessionHostArgs,
      env: {
        REDIS_URL: stack.redis.url,
        KEY_PREFIX: stack.keyPrefix,
        WA_ENGINE: 'simulator',
        HOST_ID: 'host-1',
        DATA_DIR: stack.dataDir,
        WS_MANAGEMENT_ENDPOINT: stack.offline.managementEndpoint,
        HOST_HEARTBEAT_MS: '500',
        HOST_TTL_MS: '1500',
      },
    });
    extraProcesses.push(duplicate);
    const exit = await duplicate.exited;
    expect(exit.code).toBe(3);
    expect(duplicate.output()).toMatch(/HOST_ID 'host-1' is in use by another live session host: its lease is being renewed \(\d+ ms left on it/);
    expect(duplicate.output()).not.toMatch(/session host ready|adopted a session/);
    // The first still owns and runs the session.
    expect(await redis.get(redisKeys(stack.keyPrefix).sessionOwner(sessionId))).toBe('host-1');
    expect((await stack.api.request('GET', `/api/messages/${sessionId}/chats`)).status).toBe(200);
    expect((await session()).status).toBe('connected');
    expect((await health()).status).toBe(200);
  });
});
