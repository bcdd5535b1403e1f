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

  it('gives its own sessions up to the others when it comes back with room for fewer', async () => {
    const first = stack.hosts[0];
    if (first === undefined) throw new Error('no first host');
    const listed = await stack.api.request<{ sessions: Session[] }>('GET', '/api/sessions');
    const all = listed.body.sessions.map((session) => session.id);
    // host-1 dies and comes back at once with room for one: it runs one of its two and gives the other up.
    await first.kill();
    await stack.startHost('host-1', { MAX_SESSIONS_PER_HOST: '1' });
    await stack.startHost('host-4', { MAX_SESSIONS_PER_HOST: '10' });
    // Every session ends up run by some host: each answers a command (a pairing code; a session still claimed by a
    // host that does not run it would answer 503 for as long as that host lives).
    for (const sessionId of all) {
      await eventually(
        `${sessionId} to be run by a host`,
        async () => {
          const code = await stack.api.request('POST', `/api/sessions/${sessionId}/pairing-code`, { body: { phone: '+1 555 010 9999' } });
          return code.status === 200 ? true : undefined;
        },
        30_000,
      );
    }
  });
});
