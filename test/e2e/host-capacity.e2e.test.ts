/**
 * Sessions per host (MAX_SESSIONS_PER_HOST): placement skips a full host, a create with every host full answers 409
 * LIMIT_REACHED, and a host adopts no more than it may run when another dies. Two hosts of 2 sessions each, through
 * serverless offline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../contract/api.js';
import { eventually, sessionBecomes } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ hosts: 2, hostEnv: { MAX_SESSIONS_PER_HOST: '2' } });
});

afterAll(async () => {
  await stack?.stop();
});

interface Refusal {
  error: { code: string; details?: Record<string, unknown> };
}

describe('sessions per host', () => {
  it('fills both hosts, refuses a fifth session with LIMIT_REACHED, and takes one again once a place is free', async () => {
    for (const sessionId of ['cap-1', 'cap-2', 'cap-3', 'cap-4']) {
      const created = await stack.api.request('POST', '/api/sessions', { body: { sessionId } });
      expect(created.status, sessionId).toBe(201);
      await sessionBecomes(stack.api, sessionId, 'qr');
    }
    const refused = await stack.api.request<Refusal>('POST', '/api/sessions', { body: { sessionId: 'cap-5' } });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'LIMIT_REACHED', details: { cap: 'sessionsPerHost', limit: 2 } });
    expect((await stack.api.request('GET', '/api/sessions/cap-5')).status).toBe(404);

    expect((await stack.api.request('DELETE', '/api/sessions/cap-1')).status).toBe(200);
    // The freed place counts once the host's heartbeat says so.
    await eventually('a place to be free', async () => {
      const created = await stack.api.request('POST', '/api/sessions', { body: { sessionId: 'cap-5' } });
      return created.status === 201 ? true : undefined;
    });
    await sessionBecomes(stack.api, 'cap-5', 'qr');
  });

  it('adopts no more than it may run when the other host dies', async () => {
    const [first, second] = stack.hosts;
    if (first === undefined || second === undefined) throw new Error('two hosts expected');
    await second.kill();
    // The survivor is full already: the dead host's sessions wait, said to be without a host, rather than overload it.
    const orphans = await eventually('the dead host’s sessions to read as hostless', async () => {
      const listed = await stack.api.request<{ sessions: Session[] }>('GET', '/api/sessions');
      const hostless = listed.body.sessions.filter((session) => session.lastError?.code === 'SESSION_HOST_UNAVAILABLE');
      return hostless.length === 2 ? hostless : undefined;
    });
    expect(orphans.every((session) => session.status === 'disconnected')).toBe(true);
    // A new host with room adopts them.
    await stack.startHost('host-3');
    for (const session of orphans) await sessionBecomes(stack.api, session.id, 'qr', 30_000);
  });
});
