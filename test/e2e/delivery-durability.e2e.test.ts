/**
 * Acknowledged means delivered or visibly failed: simulated traffic between two sessions on two hosts while one of
 * the hosts is killed (-9). Every send answered 201 must end with an ack `delivered`/`read`/`failed` in the sender's
 * event log, and reach the receiver's event log exactly once. Real processes: Redis, serverless offline, hosts.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message, Session } from '../../contract/api.js';
import type { EventBody } from '../../contract/events.js';
import { redisKeys } from '../../contract/redis-keys.js';
import { eventually, sessionBecomes } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';

let stack: TestStack | undefined;
let redis: Redis | undefined;

afterEach(async () => {
  redis?.disconnect();
  redis = undefined;
  await stack?.stop();
  stack = undefined;
});

interface Pair {
  stack: TestStack;
  redis: Redis;
  receiverPhone: string;
}

/** `sender` on host-a, `receiver` on host-b, both connected. */
async function twoSessionsOnTwoHosts(): Promise<Pair> {
  stack = await startTestStack({ hosts: 0 });
  const current = stack;
  redis = new Redis(current.redis.url);
  const owner = (sessionId: string) => redis?.get(redisKeys(current.keyPrefix).sessionOwner(sessionId));
  await current.startHost('host-a');
  await create(current, 'sender', '15550300001');
  await current.startHost('host-b');
  // New sessions go to the least loaded host: wait until host-a's heartbeat says it has one.
  await eventually('host-a to report its session', async () => {
    const info = await redis?.get(redisKeys(current.keyPrefix).host('host-a'));
    return info !== null && info !== undefined && (JSON.parse(info) as { sessions: number }).sessions === 1 ? true : undefined;
  });
  await create(current, 'receiver', '15550300002');
  expect(await owner('sender')).toBe('host-a');
  expect(await owner('receiver')).toBe('host-b');
  return { stack: current, redis, receiverPhone: '15550300002' };
}

async function create(target: TestStack, sessionId: string, phone: string): Promise<Session> {
  expect((await target.api.request('POST', '/api/sessions', { body: { sessionId } })).status).toBe(201);
  await sessionBecomes(target.api, sessionId, 'qr');
  expect((await target.api.request('POST', `/api/simulator/sessions/${sessionId}/scan`, { body: { phone } })).status).toBe(202);
  return sessionBecomes(target.api, sessionId, 'connected');
}

async function eventsOf(pair: Pair, sessionId: string): Promise<EventBody[]> {
  const entries = await pair.redis.xrange(redisKeys(pair.stack.keyPrefix).events(sessionId), '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[1] ?? '{}') as EventBody);
}

/**
 * Sends `count` messages, `concurrency` at a time, calling `midway` once half were answered; returns the ids and
 * bodies of those answered 201 (the others: 503 while no host had the sender, 504 for one in flight at the kill, 409
 * while the sender was starting on its new host).
 */
async function traffic(pair: Pair, count: number, midway: () => Promise<void>): Promise<Map<string, string>> {
  const acknowledged = new Map<string, string>();
  const statuses: number[] = [];
  let next = 0;
  let midwayDone: Promise<void> | undefined;
  const worker = async () => {
    while (next < count) {
      const index = next;
      next += 1;
      if (index === Math.floor(count / 2)) midwayDone = midway();
      const body = `durable ${index}`;
      const response = await pair.stack.api.request<{ message: Message }>('POST', '/api/messages/sender/send', {
        body: { chatId: pair.receiverPhone, text: body },
      });
      statuses.push(response.status);
      if (response.status === 201) acknowledged.set(response.body.message.id, body);
      else {
        // 503 while no host has the sender, 504 for one in flight at the kill, 409 while it is coming up on its new
        // host (the contract's answer for a session that is not connected yet).
        expect([503, 504, 409], `send ${index}: ${response.text}`).toContain(response.status);
        if (response.status === 409) expect(response.text).toMatch(/"status":"(starting|authenticated)"/);
      }
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  await midwayDone;
  expect(statuses.filter((status) => status === 201).length).toBeGreaterThan(0);
  return acknowledged;
}

async function everyAcknowledgedSendEnds(pair: Pair, acknowledged: Map<string, string>): Promise<void> {
  const settled = new Set(['delivered', 'read', 'failed']);
  await eventually(
    'an ack past sent for every 201',
    async () => {
      const ended = new Set(
        (await eventsOf(pair, 'sender')).flatMap((event) =>
          event.event === 'message_ack' && settled.has(event.data.ack) ? [event.data.messageId] : [],
        ),
      );
      return [...acknowledged.keys()].every((id) => ended.has(id)) ? true : undefined;
    },
    40_000,
  );
  const received = (await eventsOf(pair, 'receiver')).flatMap((event) => (event.event === 'message' ? [event.data.body] : []));
  for (const body of acknowledged.values()) expect(received.filter((text) => text === body), body).toHaveLength(1);
}

describe('acknowledged simulated messages survive a host killed mid-traffic', () => {
  it('kill -9 of the receiver’s host: every 201 is delivered once the session is adopted', async () => {
    const pair = await twoSessionsOnTwoHosts();
    const hostB = pair.stack.hosts.find((host) => host.name === 'session-host:host-b');
    const acknowledged = await traffic(pair, 30, async () => {
      await hostB?.kill();
    });
    await sessionBecomes(pair.stack.api, 'receiver', 'connected', 30_000);
    await everyAcknowledgedSendEnds(pair, acknowledged);
  });

  it('kill -9 of the sender’s host: the adopted sender still hears the acks of its earlier sends', async () => {
    const pair = await twoSessionsOnTwoHosts();
    const hostA = pair.stack.hosts.find((host) => host.name === 'session-host:host-a');
    const acknowledged = await traffic(pair, 30, async () => {
      await hostA?.kill();
      // A replacement comes up under a new id, as an orchestrator would start one.
      await pair.stack.startHost('host-c');
    });
    await sessionBecomes(pair.stack.api, 'sender', 'connected', 30_000);
    await everyAcknowledgedSendEnds(pair, acknowledged);
  });
});
