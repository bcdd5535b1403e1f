/**
 * One process per HOST_ID, against real processes: a host paused (SIGSTOP) past its TTL while another process took
 * its HOST_ID stops running its sessions and exits when it wakes, instead of running them twice; a host restarted
 * after a kill -9 waits its dead self's lease out and starts.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../contract/api.js';
import { redisKeys } from '../../contract/redis-keys.js';
import { eventually } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';

let stack: TestStack;
let redis: Redis;

beforeAll(async () => {
  stack = await startTestStack({ hosts: 0 });
  redis = new Redis(stack.redis.url);
});

afterAll(async () => {
  for (const host of stack?.hosts ?? []) {
    try {
      process.kill(-host.pid, 'SIGCONT');
    } catch {
      // gone already
    }
  }
  redis?.disconnect();
  await stack?.stop();
});

async function status(sessionId: string): Promise<Session['status'] | undefined> {
  return (await stack.api.request<{ session?: Session }>('GET', `/api/sessions/${sessionId}`)).body.session?.status;
}

async function connect(sessionId: string, phone: string): Promise<void> {
  expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId } })).status).toBe(201);
  await eventually(`${sessionId} in qr`, async () => ((await status(sessionId)) === 'qr' ? true : undefined));
  expect((await stack.api.request('POST', `/api/simulator/sessions/${sessionId}/scan`, { body: { phone } })).status).toBe(202);
  await eventually(`${sessionId} connected`, async () => ((await status(sessionId)) === 'connected' ? true : undefined));
}

describe('the lease on a HOST_ID', () => {
  it('a host that wakes to find its HOST_ID taken stops running its sessions and exits; the new process runs them', async () => {
    const first = await stack.startHost('host-1');
    await connect('leased', '15550400001');
    const keys = redisKeys(stack.keyPrefix);
    const firstToken = await redis.get(keys.hostLease('host-1'));
    // Paused past its TTL: its lease lapses, and a new process under the same id takes it and the session.
    process.kill(-first.pid, 'SIGSTOP');
    const second = await stack.startHost('host-1');
    const secondToken = await redis.get(keys.hostLease('host-1'));
    expect(secondToken).not.toBe(firstToken);
    await eventually('the new process to adopt the session', async () => (/"sessionId":"leased"[^\n]*adopted a session/.test(second.output()) ? true : undefined));
    process.kill(-first.pid, 'SIGCONT');
    const exit = await first.exited;
    expect(exit.code).toBe(1);
    expect(first.output()).toMatch(/another process took the lease on this HOST_ID/);
    // The new process kept its lease and runs the session; the old one wrote nothing over it.
    expect(await redis.get(keys.hostLease('host-1'))).toBe(secondToken);
    expect((await stack.api.request('GET', '/api/messages/leased/chats')).status).toBe(200);
    const sent = await stack.api.request('POST', '/api/messages/leased/send', { body: { chatId: '15550400002', text: 'still one host' } });
    expect(sent.status).toBe(201);
    expect(await status('leased')).toBe('connected');
    await second.stop(10_000);
  });

  it('a host restarted after a kill -9 waits for its old lease to lapse, then starts', async () => {
    const killed = await stack.startHost('host-2');
    const keys = redisKeys(stack.keyPrefix);
    const oldToken = await redis.get(keys.hostLease('host-2'));
    await killed.kill();
    await killed.exited;
    const restarted = await stack.startHost('host-2');
    const newToken = await redis.get(keys.hostLease('host-2'));
    expect(newToken).not.toBeNull();
    expect(newToken).not.toBe(oldToken);
    await restarted.stop(10_000);
    // A clean stop frees the id at once.
    expect(await redis.exists(keys.hostLease('host-2'))).toBe(0);
  });
});
