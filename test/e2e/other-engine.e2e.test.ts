/**
 * A session of an engine no host runs (a `webjs` session in Redis while only simulator hosts run, as after switching
 * WA_ENGINE): listed and read with a clear status that says so, and deletable through the REST API, which removes
 * its record and event log itself (no host can log it out), through serverless offline and a real simulator host.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../contract/api.js';
import type { SessionRecord } from '../../contract/commands.js';
import { redisKeys, type RedisKeys } from '../../contract/redis-keys.js';
import { waitFor } from '../../scripts/support/processes.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';

let stack: TestStack;
let redis: Redis;
let keys: RedisKeys;

beforeAll(async () => {
  stack = await startTestStack({ hosts: 1 });
  redis = new Redis(stack.redis.url);
  keys = redisKeys(stack.keyPrefix);
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

/** Writes a `webjs` session as a webjs host would have left it (its owner, a host long gone). */
async function writeWebjsSession(sessionId: string): Promise<void> {
  const now = new Date();
  const record: SessionRecord = {
    id: sessionId,
    status: 'connected',
    engine: 'webjs',
    me: { id: '15550109999@c.us', pushName: 'Old phone', lid: '99990000000001@lid' },
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    lastError: null,
    qr: null,
  };
  await redis
    .multi()
    .set(keys.session(sessionId), JSON.stringify(record))
    .set(keys.sessionOwner(sessionId), 'webjs-host-gone')
    .zadd(keys.sessions, now.getTime(), sessionId)
    .xadd(keys.events(sessionId), '*', 'e', JSON.stringify({ event: 'connection_update', sessionId, timestamp: now.toISOString(), data: { status: 'connected', qr: null, lastError: null, me: null } }))
    .exec();
}

describe('a session of an engine no host runs', () => {
  it('is listed as disconnected, saying no host of its engine runs', async () => {
    await writeWebjsSession('old-webjs');
    const list = await stack.api.request<{ sessions: Session[] }>('GET', '/api/sessions');
    expect(list.status).toBe(200);
    const listed = list.body.sessions.find((session) => session.id === 'old-webjs');
    expect(listed?.status).toBe('disconnected');
    expect(listed?.engine).toBe('webjs');
    expect(listed?.lastError?.code).toBe('SESSION_HOST_UNAVAILABLE');
    expect(listed?.lastError?.message).toMatch(/No session host of the webjs engine runs/);
    expect(listed?.lastError?.message).toMatch(/delete/);
    const read = await stack.api.request<{ session: Session }>('GET', '/api/sessions/old-webjs');
    expect(read.body.session).toEqual(listed);
    // Commands still answer 503 at once (nothing runs it).
    const send = await stack.api.request<{ error: { code: string } }>('POST', '/api/messages/old-webjs/send', { body: { chatId: '15550100001', text: 'x' } });
    expect(send.status).toBe(503);
  });

  it('is deleted by DELETE /api/sessions/:id: record, index entry, owner and event log gone; 404 after', async () => {
    await writeWebjsSession('old-webjs-2');
    const deleted = await stack.api.request<{ session: Session }>('DELETE', '/api/sessions/old-webjs-2');
    expect(deleted.status).toBe(200);
    expect(deleted.body.session).toMatchObject({ id: 'old-webjs-2', engine: 'webjs', status: 'disconnected' });
    expect(await redis.exists(keys.session('old-webjs-2'), keys.sessionOwner('old-webjs-2'), keys.events('old-webjs-2'))).toBe(0);
    expect(await redis.zscore(keys.sessions, 'old-webjs-2')).toBeNull();
    expect((await stack.api.request('GET', '/api/sessions/old-webjs-2')).status).toBe(404);
    expect((await stack.api.request('DELETE', '/api/sessions/old-webjs-2')).status).toBe(404);
    const list = await stack.api.request<{ sessions: Session[] }>('GET', '/api/sessions');
    expect(list.body.sessions.map((session) => session.id)).not.toContain('old-webjs-2');
  });

  it('leaves sessions of the running engine to their host: a simulator session is still deleted by it', async () => {
    expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId: 'sim-1' } })).status).toBe(201);
    await waitFor(
      'sim-1 in qr',
      async () => ((await stack.api.request<{ session: Session }>('GET', '/api/sessions/sim-1')).body.session.status === 'qr' ? true : undefined),
      30_000,
    );
    const read = await stack.api.request<{ session: Session }>('GET', '/api/sessions/sim-1');
    expect(read.body.session.lastError).toBeNull();
    const deleted = await stack.api.request<{ session: Session }>('DELETE', '/api/sessions/sim-1');
    expect(deleted.status).toBe(200);
    expect(deleted.body.session.engine).toBe('simulator');
    expect((await stack.api.request('GET', '/api/sessions/sim-1')).status).toBe(404);
  });
});
