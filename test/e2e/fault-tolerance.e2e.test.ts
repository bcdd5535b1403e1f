/**
 * Keys, sending once, and surviving crashes, through the real stack: serverless offline, a session-host process,
 * and a redis-server. Every test stands on its own: the key and idempotency tests share one stack but each links
 * its own sessions; each crash test (kill -9, Redis restart, SIGTERM) runs on a stack of its own.
 * No test asserts a wall-clock bound: a loaded machine may be slow. They assert outcomes and order (every caller
 * answered before the host came back, the host exited by itself before its shutdown deadline forced it); the times
 * themselves are the benchmarks' business.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, Session } from '../../contract/api.js';
import { eventBodySchema } from '../../contract/events.js';
import { redisKeys } from '../../contract/redis-keys.js';
import { eventually, sessionBecomes, type ApiResponse } from '../support/http-client.js';
import { startTestStack, type TestStack, type TestStackOptions } from '../support/local-stack.js';

const commandTimeoutMs = 3_000;
/**
 * Requests in flight at once. serverless-offline starts a new worker (a cold start of a few seconds on two cores)
 * for each concurrent invocation beyond those it has warm, so each stack warms this many first, so that the crash
 * tests really have requests at the session host when they crash it.
 */
const concurrency = 12;
/** Long enough for anything a loaded machine does; these are deadlines for a hang, not measurements. */
const patientMs = 60_000;
const crashTestTimeoutMs = 300_000;

const stackOptions = (extra: TestStackOptions = {}): TestStackOptions => ({
  ...extra,
  offlineEnv: { COMMAND_TIMEOUT_MS: String(commandTimeoutMs), SEND_RATE_LIMIT: '0', ...extra.offlineEnv },
  hostEnv: { SHUTDOWN_TIMEOUT_MS: '10000', ...extra.hostEnv },
});

async function warm(stack: TestStack): Promise<void> {
  await Promise.all(Array.from({ length: concurrency }, () => stack.api.request('GET', '/api/sessions')));
}

interface Pair {
  sender: string;
  receiver: string;
  receiverPhone: string;
}

let phoneCounter = 0;
/** Two new sessions, linked by scanning, with numbers no other test uses. */
async function linkedPair(stack: TestStack, name: string): Promise<Pair> {
  const base = 15550400000 + (process.pid % 1_000) * 100 + phoneCounter;
  phoneCounter += 2;
  const pair = { sender: `${name}-alice`, receiver: `${name}-bob`, receiverPhone: String(base + 1) };
  for (const [sessionId, phone] of [[pair.sender, String(base)], [pair.receiver, pair.receiverPhone]] as const) {
    expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId } })).status).toBe(201);
    await sessionBecomes(stack.api, sessionId, 'qr', patientMs);
    expect((await stack.api.request('POST', `/api/simulator/sessions/${sessionId}/scan`, { body: { phone } })).status).toBe(202);
    await sessionBecomes(stack.api, sessionId, 'connected', patientMs);
  }
  return pair;
}

/** How many times each text reached `sessionId`, read from its event log (which outlives host restarts). */
async function received(stack: TestStack, sessionId: string): Promise<Map<string, number>> {
  const redis = new Redis(stack.redis.url);
  try {
    const entries = await redis.xrange(redisKeys(stack.keyPrefix).events(sessionId), '-', '+');
    const counts = new Map<string, number>();
    for (const [, fields] of entries) {
      const event = eventBodySchema.parse(JSON.parse(fields[1] ?? '{}'));
      if (event.event === 'message') counts.set(event.data.body, (counts.get(event.data.body) ?? 0) + 1);
    }
    return counts;
  } finally {
    redis.disconnect();
  }
}

/** Whether nothing listens on 127.0.0.1:`port`. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

function sender(stack: TestStack, pair: Pair) {
  return (text: string, headers: Record<string, string> = {}) =>
    stack.api.request<{ message: Message }>('POST', `/api/messages/${pair.sender}/send`, { body: { chatId: pair.receiverPhone, text }, headers });
}

/** Runs `test` on a stack of its own, stopped whatever happens. */
async function withOwnStack(options: TestStackOptions, test: (stack: TestStack) => Promise<void>): Promise<void> {
  const stack = await startTestStack(stackOptions(options));
  try {
    await warm(stack);
    await test(stack);
  } finally {
    await stack.stop();
  }
}

describe('keys and Idempotency-Key (a shared stack; each test links its own sessions)', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack(stackOptions());
    await warm(stack);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('refuses a key in the wrong place: query string, bearer token, cookie, or a list of keys', async () => {
    const attempts: Array<{ path: string; headers: Record<string, string> }> = [
      { path: `/api/sessions?x-api-key=${stack.apiKey}`, headers: {} },
      { path: `/api/sessions?apiKey=${stack.apiKey}`, headers: {} },
      { path: '/api/sessions', headers: { authorization: `Bearer ${stack.apiKey}` } },
      { path: '/api/sessions', headers: { cookie: `x-api-key=${stack.apiKey}` } },
      { path: '/api/sessions', headers: { 'x-api-key': `${stack.apiKey},${stack.apiKey}` } },
    ];
    for (const options of attempts) {
      const response = await stack.api.request('GET', options.path, { apiKey: null, headers: options.headers });
      expect(response.status, JSON.stringify(options)).toBe(401);
    }
  });

  it('sends once for one Idempotency-Key: twice at once and twice in a row give one message and equal answers', async () => {
    const pair = await linkedPair(stack, 'idem');
    const send = sender(stack, pair);
    const headers = { 'idempotency-key': `idem-at-once-${randomBytes(4).toString('hex')}` };
    const atOnce = await Promise.all([send('idempotent 1', headers), send('idempotent 1', headers)]);
    const inARow = await send('idempotent 1', headers);
    for (const response of [...atOnce, inARow]) {
      expect(response.status).toBe(201);
      expect(response.body).toEqual(atOnce[0]!.body);
    }
    const reused = await stack.api.request<{ error: { code: string } }>('POST', `/api/messages/${pair.sender}/send`, {
      body: { chatId: pair.receiverPhone, text: 'another text' },
      headers,
    });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    await eventually('the receiver to get it', async () => ((await received(stack, pair.receiver)).get('idempotent 1') === 1 ? true : undefined), patientMs);
    // A marker sent after it, on the same path, arrives after any duplicate would have: then count again.
    expect((await send('marker after idempotent 1')).status).toBe(201);
    await eventually('the marker', async () => ((await received(stack, pair.receiver)).get('marker after idempotent 1') === 1 ? true : undefined), patientMs);
    expect((await received(stack, pair.receiver)).get('idempotent 1')).toBe(1);
  });

  it('creates a session once for one Idempotency-Key', async () => {
    const sessionId = `carol-${randomBytes(4).toString('hex')}`;
    const headers = { 'idempotency-key': `create-${sessionId}` };
    const first = await stack.api.request('POST', '/api/sessions', { body: { sessionId }, headers });
    const second = await stack.api.request('POST', '/api/sessions', { body: { sessionId }, headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('location')).toBe(`/api/sessions/${sessionId}`);
    const plain = await stack.api.request<{ error: { code: string } }>('POST', '/api/sessions', { body: { sessionId } });
    expect(plain.body.error.code).toBe('SESSION_EXISTS');
    expect((await stack.api.request('DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
  });
});

describe('crashes (each test on a stack of its own)', () => {
  // A delivery between simulated sessions that the dead host had already taken from its inbox is lost, not
  // repeated: commands are taken at most once. Asserted here: no message twice, every caller answered while the host
  // was still dead (nobody waits for its return: a deadline ends each wait), sessions back after the restart.
  it(
    'kill -9 of the session host with sends in flight: every caller answered while it is dead, sessions back, nothing sent twice',
    () =>
      withOwnStack({}, async (stack) => {
        const pair = await linkedPair(stack, 'crash');
        const send = sender(stack, pair);
        const texts = Array.from({ length: 48 }, (_, index) => `crash ${index}`);
        const answers: Array<{ text: string; response: ApiResponse<{ message: Message }> }> = [];
        let next = 0;
        const senders = Array.from({ length: concurrency }, async () => {
          for (let text = texts[next++]; text !== undefined; text = texts[next++]) answers.push({ text, response: await send(text) });
        });
        await eventually('some sends to be answered', async () => (answers.length >= 5 ? true : undefined), patientMs);
        const host = stack.hosts.splice(0, 1)[0]!;
        await host.kill();
        await Promise.all(senders);
        // Every caller has its answer, and the host is not back yet: no answer waited for it.
        expect(answers).toHaveLength(texts.length);
        expect(stack.hosts).toHaveLength(0);
        const statuses = answers.map(({ response }) => response.status);
        for (const status of statuses) expect([201, 503, 504], `statuses ${statuses.join(',')}`).toContain(status);

        await stack.startHost('host-1');
        await sessionBecomes(stack.api, pair.sender, 'connected', patientMs);
        await sessionBecomes(stack.api, pair.receiver, 'connected', patientMs);

        const acknowledged = answers.filter(({ response }) => response.status === 201).map(({ text }) => text);
        expect(acknowledged.length).toBeGreaterThanOrEqual(5);
        // Deliveries still queued when the host died are made after its restart: a send after them, on the same
        // path, arrives after them, so once it is there, whatever was coming has come.
        expect((await send('after the crash')).status).toBe(201);
        await eventually('the send after the crash', async () => ((await received(stack, pair.receiver)).get('after the crash') === 1 ? true : undefined), patientMs);
        const counts = await received(stack, pair.receiver);
        for (const text of texts) expect(counts.get(text) ?? 0, text).toBeLessThanOrEqual(1);
      }),
    crashTestTimeoutMs,
  );

  it(
    'Redis restart under load: 503 meanwhile, healthy again after, nothing acknowledged lost',
    () =>
      withOwnStack({ persistentRedis: true }, async (stack) => {
        const pair = await linkedPair(stack, 'outage');
        const send = sender(stack, pair);
        expect((await send('before the outage')).status).toBe(201);
        await eventually('the receiver to get it', async () => ((await received(stack, pair.receiver)).get('before the outage') === 1 ? true : undefined), patientMs);

        await stack.stopRedis();
        // Nothing else took its port meanwhile (on a shared machine another test's Redis could): else what follows
        // would talk to a stranger.
        expect(await refused(stack.redis.port), `port ${stack.redis.port} is free`).toBe(true);
        // Answered while Redis is still down (it comes back only after all of these): nothing waits for it.
        const during = await Promise.all(Array.from({ length: concurrency }, () => stack.api.request('GET', '/api/sessions')));
        expect(during.map(({ status, text }) => `${status} ${text.slice(0, 120)}`).filter((line) => !line.startsWith("503"))).toEqual([]);
        expect((await stack.api.request('GET', '/api/health', { apiKey: null })).status).toBe(503);
        expect((await send('while redis is down')).status).toBe(503);

        await stack.startRedis();
        await eventually('health', async () => ((await stack.api.request('GET', '/api/health', { apiKey: null })).status === 200 ? true : undefined), patientMs);
        const sent = await eventually(
          'a send to go through again',
          async () => {
            const response = await send('after redis came back');
            return response.status === 201 ? response : undefined;
          },
          patientMs,
        );
        expect(sent.body.message.body).toBe('after redis came back');
        // What was acknowledged before the outage is still there.
        const list = await stack.api.request<{ sessions: Session[] }>('GET', '/api/sessions');
        expect(list.body.sessions.map((session) => session.id).sort()).toEqual([pair.sender, pair.receiver].sort());
        const counts = await received(stack, pair.receiver);
        expect(counts.get('before the outage')).toBe(1);
        expect(counts.get('while redis is down')).toBeUndefined();
      }),
    crashTestTimeoutMs,
  );

  it(
    'SIGTERM with requests in flight: they finish, the host exits by itself before its deadline, and nothing is left running',
    () =>
      withOwnStack({}, async (stack) => {
        const pair = await linkedPair(stack, 'graceful');
        const send = sender(stack, pair);
        const answers: number[] = [];
        const inFlight = Array.from({ length: concurrency }, async (_, index) => {
          const response = await send(`graceful ${index}`);
          answers.push(response.status);
        });
        await eventually('a first answer', async () => (answers.length >= 1 ? true : undefined), patientMs);
        const host = stack.hosts.splice(0, 1)[0]!;
        // Exit code 0 is the host's own clean exit: its SHUTDOWN_TIMEOUT_MS (10 s) would have forced code 1, and our
        // SIGKILL (after 120 s) a signal. So it finished within its deadline, however slow the machine.
        const exit = await host.stop(120_000);
        expect(exit).toEqual({ code: 0, signal: null });
        await Promise.all(inFlight);
        expect(answers).toHaveLength(concurrency);
        for (const status of answers) expect([201, 503, 504]).toContain(status);
        // Nothing of the host's process group is left.
        expect(() => process.kill(-host.pid, 0)).toThrow();
        const counts = await received(stack, pair.receiver);
        for (let index = 0; index < concurrency; index += 1) expect(counts.get(`graceful ${index}`) ?? 0).toBeLessThanOrEqual(1);
      }),
    crashTestTimeoutMs,
  );
});
