/**
 * Several session hosts on one Redis: new sessions go to the least loaded host, simulated sessions on two hosts
 * message each other, and when a host dies its sessions are adopted by a live one and come back connected
 * without a scan (the data folder is shared, as a volume would be).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, Session } from '../../contract/api.js';
import { redisKeys } from '../../contract/redis-keys.js';
import { freePort } from '../../scripts/support/processes.js';
import { eventually, sessionBecomes } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';

let stack: TestStack;
let redis: Redis;
const healthPorts: number[] = [];
const ids = ['m1', 'm2', 'm3', 'm4'];

beforeAll(async () => {
  stack = await startTestStack({ hosts: 0, hostEnv: { SIMULATOR_AUTO_SCAN_MS: '200' } });
  for (const hostId of ['host-a', 'host-b']) {
    const port = await freePort();
    healthPorts.push(port);
    // Loopback: the operator's own port, so the details are asked for (issue 15).
    await stack.startHost(hostId, { HEALTH_PORT: String(port), HEALTH_DETAILS: 'true' });
  }
  redis = new Redis(stack.redis.url);
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

async function ownerOf(sessionId: string): Promise<string | null> {
  return redis.get(redisKeys(stack.keyPrefix).sessionOwner(sessionId));
}

function connected(sessionId: string): Promise<Session> {
  return sessionBecomes(stack.api, sessionId, 'connected', 20_000);
}

describe('several session hosts on one Redis', () => {
  it('answers the health endpoint of each host', async () => {
    for (const port of healthPorts) {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'ok', engine: 'simulator' });
    }
  });

  it('spreads new sessions over the hosts', async () => {
    for (const id of ids) {
      expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId: id } })).status).toBe(201);
      // Let the heartbeat carry the new load before the next placement.
      await new Promise((resolve) => setTimeout(resolve, 600));
    }
    const owners = await Promise.all(ids.map(ownerOf));
    expect(new Set(owners)).toEqual(new Set(['host-a', 'host-b']));
    for (const id of ids) await connected(id);
  });

  it('carries a message between simulated sessions on two hosts', async () => {
    const owners = await Promise.all(ids.map(ownerOf));
    const from = ids[owners.indexOf('host-a')]!;
    const to = ids[owners.indexOf('host-b')]!;
    const receiver = await connected(to);
    const sent = await stack.api.request<{ message: Message }>('POST', `/api/messages/${from}/send`, {
      body: { chatId: receiver.me!.id, text: 'across hosts' },
    });
    expect(sent.status).toBe(201);
    const sender = await connected(from);
    await eventually('the message on the other host', async () => {
      // The receiver did not have the sender's number: the chat is the sender's LID.
      const history = await stack.api.request<{ messages: Message[] }>('GET', `/api/messages/${to}/chat/${encodeURIComponent(sender.me!.lid!)}`);
      return history.body.messages.some((message) => message.body === 'across hosts') ? true : undefined;
    });
  });

  it('adopts the sessions of a dead host on a live one: connected again without a scan', async () => {
    const before = await Promise.all(ids.map(ownerOf));
    const orphans = ids.filter((_, index) => before[index] === 'host-a');
    const phones = new Map<string, string>();
    for (const id of orphans) phones.set(id, (await connected(id)).me!.id);
    const hostA = stack.hosts.find((host) => host.name === 'session-host:host-a')!;
    await hostA.kill();
    for (const id of orphans) {
      await eventually(`${id} adopted by host-b`, async () => ((await ownerOf(id)) === 'host-b' ? true : undefined), 20_000);
      const session = await connected(id);
      // The same login: the same number, with no new scan.
      expect(session.me?.id).toBe(phones.get(id));
    }
    const sent = await stack.api.request('POST', `/api/messages/${orphans[0]}/send`, { body: { chatId: '4930123456', text: 'after adoption' } });
    expect(sent.status).toBe(201);
  });
});
