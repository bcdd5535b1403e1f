/**
 * Issue 15, scoped keys and caps, through a real local stack (serverless offline, a session host, Redis): two tenant
 * keys and administrators. Each tenant sees only its own sessions on REST, over the WebSocket (unfiltered events,
 * subscribe, resume, the handshake) and in its webhooks; an Idempotency-Key of one key never answers another; the
 * administrators see everything; a revoked key stops at once; key routes are for administrators only; and each cap
 * answers as docs/api.md "Limits" says, with Redis holding no more than the cap (counted in Redis).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../contract/api.js';
import type { Key } from '../../contract/keys.js';
import { redisKeys } from '../../contract/redis-keys.js';
import type { Webhook } from '../../contract/webhooks.js';
import { startReceiver, type Receiver } from '../integration/webhook-receiver.js';
import { apiClient, eventually, type ApiClient } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { connectWebSocket, HandshakeRefused, type ReceivedFrame, type TestWebSocket } from '../support/ws-client.js';

const caps = { sessionsPerKey: 3, subscriptions: 3, idempotencyRecords: 4, keyRate: 80, failedKeys: 5, failedWindowMs: 4_000 };

let stack: TestStack;
let redis: Redis;
let receiver: Receiver;
const sockets: TestWebSocket[] = [];
let admin: ApiClient;
let tenantA: { key: Key; secret: string; api: ApiClient };
let tenantB: { key: Key; secret: string; api: ApiClient };
/** B's and the administrator's unfiltered connections, kept open for the revocation test. */
let liveB: TestWebSocket;
let liveAdmin: TestWebSocket;

beforeAll(async () => {
  stack = await startTestStack({
    offlineEnv: {
      MAX_SESSIONS_PER_KEY: String(caps.sessionsPerKey),
      WS_MAX_SUBSCRIPTIONS: String(caps.subscriptions),
      IDEMPOTENCY_MAX_RECORDS_PER_KEY: String(caps.idempotencyRecords),
      KEY_RATE_LIMIT: String(caps.keyRate),
      FAILED_KEY_LIMIT: String(caps.failedKeys),
      FAILED_KEY_WINDOW_MS: String(caps.failedWindowMs),
    },
  });
  redis = new Redis(stack.redis.url, { lazyConnect: false });
  receiver = await startReceiver();
  admin = stack.api;
  tenantA = await makeKey('tenant-a', 'tenant');
  tenantB = await makeKey('tenant-b', 'tenant');
}, 120_000);

afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.close()));
  await receiver?.close();
  redis?.disconnect();
  await stack?.stop();
});

async function makeKey(name: string, scope: 'admin' | 'tenant'): Promise<{ key: Key; secret: string; api: ApiClient }> {
  const created = await admin.request<{ key: Key; secret: string }>('POST', '/api/keys', { body: { name, scope } });
  expect(created.status).toBe(201);
  return { ...created.body, api: apiClient(stack.offline.httpUrl, created.body.secret) };
}

async function open(apiKey: string, query = ''): Promise<TestWebSocket> {
  const socket = await connectWebSocket(`${stack.offline.websocketUrl}/?apiKey=${encodeURIComponent(apiKey)}${query}`);
  sockets.push(socket);
  return socket;
}

async function refusal(apiKey: string, query = ''): Promise<number | undefined> {
  const outcome = await connectWebSocket(`${stack.offline.websocketUrl}/?apiKey=${encodeURIComponent(apiKey)}${query}`).then(
    async (socket) => {
      await socket.close();
      return undefined;
    },
    (error: unknown) => error,
  );
  return outcome instanceof HandshakeRefused ? outcome.statusCode : undefined;
}

/** Creates a session with `api` and brings it to `connected` (simulated scan), through that key. */
async function createConnected(api: ApiClient, sessionId: string, phone: string): Promise<void> {
  expect((await api.request('POST', '/api/sessions', { body: { sessionId } })).status).toBe(201);
  await eventually(`${sessionId} in qr`, async () => ((await api.request<{ session: Session }>('GET', `/api/sessions/${sessionId}`)).body.session?.status === 'qr' ? true : undefined));
  expect((await api.request('POST', `/api/simulator/sessions/${sessionId}/scan`, { body: { phone } })).status).toBe(202);
  await eventually(`${sessionId} connected`, async () =>
    (await api.request<{ session: Session }>('GET', `/api/sessions/${sessionId}`)).body.session?.status === 'connected' ? true : undefined,
  );
}

const keys = () => redisKeys(stack.keyPrefix);
const ofSession = (sessionId: string) => (frame: ReceivedFrame) => frame.sessionId === sessionId && typeof frame.id === 'string';

describe('keys and tenants', () => {
  it('makes keys for administrators only, shows each secret once and stores only its digest', async () => {
    const listed = await admin.request<{ keys: Key[] }>('GET', '/api/keys');
    expect(listed.status).toBe(200);
    expect(listed.body.keys.map((key) => key.id)).toEqual([tenantA.key.id, tenantB.key.id]);
    expect(listed.body.keys[0]).toEqual({ id: tenantA.key.id, name: 'tenant-a', scope: 'tenant', createdAt: expect.any(String), lastUsedAt: null });
    expect(listed.text).not.toContain(tenantA.secret);
    expect(tenantA.secret).toMatch(/^wak_[A-Za-z0-9_-]{43}$/);
    // Nothing in Redis holds a secret.
    const stored = JSON.stringify(await redis.hgetall(keys().apiKeys)) + JSON.stringify(await redis.hgetall(keys().apiKeyDigests));
    expect(stored).not.toContain(tenantA.secret);
    expect(stored).not.toContain(tenantA.secret.slice(4));

    for (const [method, path, body] of [
      ['GET', '/api/keys', undefined],
      ['POST', '/api/keys', { name: 'mine', scope: 'admin' }],
      ['DELETE', `/api/keys/${tenantB.key.id}`, undefined],
    ] as const) {
      const refused = await tenantA.api.request<{ error: { code: string } }>(method, path, body === undefined ? {} : { body });
      expect(refused.status, `${method} ${path}`).toBe(403);
      expect(refused.body.error.code).toBe('FORBIDDEN');
    }
    // A key made with the admin scope is an administrator.
    const second = await makeKey('second-admin', 'admin');
    expect((await second.api.request('GET', '/api/keys')).status).toBe(200);
    expect((await admin.request('DELETE', `/api/keys/${second.key.id}`)).status).toBe(200);
    const unknown = await admin.request<{ error: { code: string } }>('DELETE', `/api/keys/${second.key.id}`);
    expect(unknown.status).toBe(404);
  });

  it("gives a tenant its own sessions only: another tenant's answers 404 on every route", async () => {
    await createConnected(tenantA.api, 'ta-1', '15550200001');
    await createConnected(tenantB.api, 'tb-1', '15550200002');
    expect(await redis.get(keys().sessionTenant('ta-1'))).toBe(tenantA.key.id);
    expect(await redis.ttl(keys().sessionTenant('ta-1'))).toBe(-1);

    const ownList = await tenantA.api.request<{ sessions: Session[] }>('GET', '/api/sessions');
    expect(ownList.body.sessions.map((session) => session.id)).toEqual(['ta-1']);
    const paged = await tenantA.api.request<{ sessions: Session[]; nextCursor: string | null }>('GET', '/api/sessions?limit=1');
    expect(paged.body).toMatchObject({ sessions: [{ id: 'ta-1' }], nextCursor: null });
    const all = await admin.request<{ sessions: Session[] }>('GET', '/api/sessions');
    expect(all.body.sessions.map((session) => session.id)).toEqual(expect.arrayContaining(['ta-1', 'tb-1']));
    expect((await admin.request('GET', '/api/sessions/ta-1')).status).toBe(200);

    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/api/sessions/ta-1'],
      ['GET', '/api/sessions/ta-1/qr'],
      ['POST', '/api/sessions/ta-1/pairing-code', { phone: '15550200009' }],
      ['POST', '/api/sessions/ta-1/restart'],
      ['DELETE', '/api/sessions/ta-1'],
      ['POST', '/api/messages/ta-1/send', { chatId: '15550200002', text: 'not yours' }],
      ['GET', '/api/messages/ta-1/chats'],
      ['GET', '/api/messages/ta-1/chat/15550200002'],
      ['GET', '/api/messages/ta-1/contacts'],
      ['GET', '/api/messages/ta-1/contacts/15550200002'],
      ['POST', '/api/simulator/sessions/ta-1/scan', {}],
      ['POST', '/api/simulator/sessions/ta-1/pair', { code: 'ABCD-EFGH' }],
      ['POST', '/api/simulator/sessions/ta-1/incoming', { from: '15550200003', text: 'hi' }],
    ];
    for (const [method, path, body] of routes) {
      const answer = await tenantB.api.request<{ error: { code: string } }>(method, path, body === undefined ? {} : { body });
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(answer.body.error.code, `${method} ${path}`).toBe('SESSION_NOT_FOUND');
    }
    // B's refused send did not count against A's session's send rate.
    expect(await redis.zcard(keys().sendRate('ta-1'))).toBe(0);
    // Still there and still connected: B touched nothing.
    const still = await tenantA.api.request<{ session: Session }>('GET', '/api/sessions/ta-1');
    expect(still.body.session.status).toBe('connected');
    // The owner itself reaches its session on the same routes.
    expect((await tenantA.api.request('GET', '/api/messages/ta-1/chats')).status).toBe(200);
  });

  it("scopes Idempotency-Keys per key: A's key never answers B", async () => {
    const first = await tenantA.api.request<{ session: Session }>('POST', '/api/sessions', { body: { sessionId: 'ta-idem' }, headers: { 'idempotency-key': 'shared-key' } });
    expect(first.status).toBe(201);
    // Another body under the same Idempotency-Key from B: B's own request runs (not IDEMPOTENCY_KEY_REUSED).
    const other = await tenantB.api.request<{ session: Session }>('POST', '/api/sessions', { body: { sessionId: 'tb-idem' }, headers: { 'idempotency-key': 'shared-key' } });
    expect(other.status).toBe(201);
    expect(other.body.session.id).toBe('tb-idem');
    // A's key and body from B: B's own request runs (the id is A's: 409), never A's stored 201.
    const same = await tenantB.api.request<{ error: { code: string } }>('POST', '/api/sessions', { body: { sessionId: 'ta-idem' }, headers: { 'idempotency-key': 'shared-key-2' } });
    expect(same.status).toBe(409);
    expect(same.body.error.code).toBe('SESSION_EXISTS');
    // A repeat by A still answers A's first response.
    const again = await tenantA.api.request<{ session: Session }>('POST', '/api/sessions', { body: { sessionId: 'ta-idem' }, headers: { 'idempotency-key': 'shared-key' } });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    for (const api of [tenantA.api, tenantB.api]) {
      const id = api === tenantA.api ? 'ta-idem' : 'tb-idem';
      expect((await api.request('DELETE', `/api/sessions/${id}`)).status).toBe(200);
    }
    expect(await redis.exists(keys().sessionTenant('ta-idem'))).toBe(0);
    expect(await redis.zscore(keys().keySessions(tenantA.key.id), 'ta-idem')).toBeNull();
  });

  it("never sends a tenant another tenant's events over the WebSocket: unfiltered, subscribe, resume or handshake", async () => {
    const socketA = await open(tenantA.secret);
    const socketB = await open(tenantB.secret);
    const socketAdmin = await open(stack.apiKey);
    liveB = socketB;
    liveAdmin = socketAdmin;
    for (const [api, sessionId, text] of [
      [tenantA.api, 'ta-1', 'for-a-only'],
      [tenantB.api, 'tb-1', 'for-b-only'],
    ] as const) {
      expect((await api.request('POST', `/api/simulator/sessions/${sessionId}/incoming`, { body: { from: '15550200077', text } })).status).toBe(202);
    }
    const bodyOf = (frame: ReceivedFrame) => (frame.data as { body?: string } | undefined)?.body;
    await socketA.waitFor((frame) => bodyOf(frame) === 'for-a-only');
    await socketB.waitFor((frame) => bodyOf(frame) === 'for-b-only');
    await socketAdmin.waitFor((frame) => bodyOf(frame) === 'for-a-only');
    await socketAdmin.waitFor((frame) => bodyOf(frame) === 'for-b-only');

    // Subscribe and resume to A's session from B: refused as if it did not exist.
    const errorFor = (action: string) => (frame: ReceivedFrame) => frame.event === 'error' && frame.action === action && frame.sessionId === 'ta-1';
    socketB.send({ action: 'subscribe', sessionId: 'ta-1' });
    expect((await socketB.waitFor(errorFor('subscribe'))).data).toMatchObject({ code: 'SESSION_NOT_FOUND' });
    socketB.send({ action: 'resume', sessionId: 'ta-1', after: '0-0' });
    expect((await socketB.waitFor(errorFor('resume'))).data).toMatchObject({ code: 'SESSION_NOT_FOUND' });
    expect(await refusal(tenantB.secret, '&sessionId=ta-1')).toBe(404);
    // A subscribed tenant connection: its own session's events, nothing of others'.
    const subscribedB = await open(tenantB.secret, '&sessionId=tb-1');
    // A resume from the owner replays its history.
    socketA.send({ action: 'resume', sessionId: 'ta-1', after: '0-0' });
    await socketA.waitFor((frame) => frame.event === 'resumed' && frame.sessionId === 'ta-1');

    expect((await tenantA.api.request('POST', '/api/simulator/sessions/ta-1/incoming', { body: { from: '15550200077', text: 'second-for-a' } })).status).toBe(202);
    expect((await tenantB.api.request('POST', '/api/simulator/sessions/tb-1/incoming', { body: { from: '15550200077', text: 'second-for-b' } })).status).toBe(202);
    await socketB.waitFor((frame) => bodyOf(frame) === 'second-for-b');
    await subscribedB.waitFor((frame) => bodyOf(frame) === 'second-for-b');
    await socketA.waitFor((frame) => bodyOf(frame) === 'second-for-a');
    for (const socket of [socketB, subscribedB]) {
      expect(socket.frames.filter(ofSession('ta-1'))).toEqual([]);
      expect(JSON.stringify(socket.frames)).not.toContain('for-a-only');
    }
    expect(socketA.frames.filter(ofSession('tb-1'))).toEqual([]);
  });

  it("delivers a tenant's webhooks only its own sessions' events, and shows them to it alone", async () => {
    const url = (path: string) => `${receiver.url}/${path}`;
    const madeA = await tenantA.api.request<{ webhook: Webhook }>('POST', '/api/webhooks', { body: { url: url('a'), events: ['message'] } });
    const madeB = await tenantB.api.request<{ webhook: Webhook }>('POST', '/api/webhooks', { body: { url: url('b'), events: ['message'], sessions: ['ta-1', 'tb-1'] } });
    const madeAdmin = await admin.request<{ webhook: Webhook }>('POST', '/api/webhooks', { body: { url: url('admin'), events: ['message'] } });
    expect([madeA.status, madeB.status, madeAdmin.status]).toEqual([201, 201, 201]);
    const idA = madeA.body.webhook.id;

    expect((await tenantB.api.request<{ webhooks: Webhook[] }>('GET', '/api/webhooks')).body.webhooks.map((hook) => hook.id)).toEqual([madeB.body.webhook.id]);
    for (const [method, path, body] of [
      ['GET', `/api/webhooks/${idA}`],
      ['GET', `/api/webhooks/${idA}/deliveries`],
      ['POST', `/api/webhooks/${idA}/replay`, { sessionId: 'ta-1', after: '0-0' }],
      ['DELETE', `/api/webhooks/${idA}`],
    ] as Array<[string, string, unknown?]>) {
      const answer = await tenantB.api.request<{ error: { code: string } }>(method, path, body === undefined ? {} : { body });
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(answer.body.error.code).toBe('WEBHOOK_NOT_FOUND');
    }
    // Replaying A's session into B's own webhook: A's session does not exist for B.
    const replay = await tenantB.api.request<{ error: { code: string } }>('POST', `/api/webhooks/${madeB.body.webhook.id}/replay`, { body: { sessionId: 'ta-1', after: '0-0' } });
    expect(replay.status).toBe(404);
    expect(replay.body.error.code).toBe('SESSION_NOT_FOUND');
    const adminList = await admin.request<{ webhooks: Webhook[] }>('GET', '/api/webhooks');
    expect(adminList.body.webhooks.map((hook) => hook.id)).toEqual(expect.arrayContaining([idA, madeB.body.webhook.id, madeAdmin.body.webhook.id]));

    expect((await tenantA.api.request('POST', '/api/simulator/sessions/ta-1/incoming', { body: { from: '15550200078', text: 'hook-a' } })).status).toBe(202);
    expect((await tenantB.api.request('POST', '/api/simulator/sessions/tb-1/incoming', { body: { from: '15550200078', text: 'hook-b' } })).status).toBe(202);
    const count = (text: string) => receiver.requests.filter((request) => request.body.includes(text)).length;
    await eventually('both tenants and the administrator to get their events', async () => (count('hook-a') >= 2 && count('hook-b') >= 2 ? true : undefined));
    // Give a stray delivery time to arrive: each event reaches its tenant's webhook and the administrator's, no other.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect([count('hook-a'), count('hook-b')]).toEqual([2, 2]);
    const deliveriesOf = async (api: ApiClient, id: string) =>
      (await api.request<{ deliveries: Array<{ sessionId: string }> }>('GET', `/api/webhooks/${id}/deliveries`)).body.deliveries.map((delivery) => delivery.sessionId);
    expect(new Set(await deliveriesOf(tenantA.api, idA))).toEqual(new Set(['ta-1']));
    expect(new Set(await deliveriesOf(tenantB.api, madeB.body.webhook.id))).toEqual(new Set(['tb-1']));
    expect(new Set(await deliveriesOf(admin, madeAdmin.body.webhook.id))).toEqual(new Set(['ta-1', 'tb-1']));
  });

  it('caps the sessions of a key (409 LIMIT_REACHED) and holds no more than the cap in Redis', async () => {
    const tenantC = await makeKey('tenant-c', 'tenant');
    for (let index = 1; index <= caps.sessionsPerKey; index += 1) {
      expect((await tenantC.api.request('POST', '/api/sessions', { body: { sessionId: `tc-${index}` } })).status).toBe(201);
    }
    const over = await tenantC.api.request<{ error: { code: string; details: { limit: number } } }>('POST', '/api/sessions', { body: { sessionId: 'tc-over' } });
    expect(over.status).toBe(409);
    expect(over.body.error).toMatchObject({ code: 'LIMIT_REACHED', details: { limit: caps.sessionsPerKey } });
    expect((await admin.request('GET', '/api/sessions/tc-over')).status).toBe(404);
    expect(await redis.zcard(keys().keySessions(tenantC.key.id))).toBe(caps.sessionsPerKey);
    // Deleting one frees a place.
    expect((await tenantC.api.request('DELETE', '/api/sessions/tc-1')).status).toBe(200);
    expect((await tenantC.api.request('POST', '/api/sessions', { body: { sessionId: 'tc-over' } })).status).toBe(201);
    expect(await redis.zcard(keys().keySessions(tenantC.key.id))).toBe(caps.sessionsPerKey);
  });

  it('caps the webhooks of a tenant key, so that one tenant cannot take every place (409 LIMIT_REACHED)', async () => {
    const tenantF = await makeKey('tenant-f', 'tenant');
    for (let index = 0; index < 20; index += 1) {
      expect((await tenantF.api.request('POST', '/api/webhooks', { body: { url: `${receiver.url}/f${index}`, sessions: ['tf-none'] } })).status).toBe(201);
    }
    const over = await tenantF.api.request<{ error: { code: string; details: { limit: number } } }>('POST', '/api/webhooks', { body: { url: `${receiver.url}/f-over` } });
    expect(over.status).toBe(409);
    expect(over.body.error).toMatchObject({ code: 'LIMIT_REACHED', details: { limit: 20 } });
    // Others still can.
    expect((await tenantA.api.request('POST', '/api/webhooks', { body: { url: `${receiver.url}/a-more`, sessions: ['ta-none'] } })).status).toBe(201);
  });

  it('caps the subscriptions of a WebSocket connection and keeps its sets bounded and expiring', async () => {
    const socket = await open(stack.apiKey);
    for (let index = 1; index <= caps.subscriptions; index += 1) {
      socket.send({ action: 'subscribe', sessionId: `sub-${index}` });
      await socket.waitFor((frame) => frame.event === 'subscribed' && frame.sessionId === `sub-${index}`);
    }
    socket.send({ action: 'subscribe', sessionId: 'sub-over' });
    const refused = await socket.waitFor((frame) => frame.event === 'error' && frame.sessionId === 'sub-over');
    expect(refused.data).toMatchObject({ code: 'LIMIT_REACHED' });
    const connections = await redis.keys(`${stack.keyPrefix}:{ws}:conn:*`);
    const subscribed = [];
    for (const key of connections) {
      const fields = await redis.hkeys(key);
      if (fields.includes('s:sub-1')) subscribed.push(fields.filter((field) => field.startsWith('s:')).length);
    }
    expect(subscribed).toEqual([caps.subscriptions]);
    expect(await redis.zcard(keys().wsFollowers('sub-over'))).toBe(0);
    // Every set of the registry expires by itself, with its last connection.
    for (const key of [keys().wsFollowers('sub-1'), keys().wsAdminUnfiltered]) {
      const ttl = await redis.pttl(key);
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(2 * 3_600_000);
    }
  });

  it('caps the Idempotency-Key records of a key (429) and stores no more than the cap', async () => {
    const tenantD = await makeKey('tenant-d', 'tenant');
    const create = (key: string) => tenantD.api.request<{ error?: { code: string } }>('POST', '/api/sessions', { body: { sessionId: 'td-1' }, headers: { 'idempotency-key': key } });
    expect((await create('k0')).status).toBe(201);
    for (let index = 1; index < caps.idempotencyRecords; index += 1) expect((await create(`k${index}`)).status).toBe(409);
    const over = await create('k-over');
    expect(over.status).toBe(429);
    expect(over.body.error?.code).toBe('RATE_LIMITED');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await redis.zcard(keys().keyIdempotencyIndex(tenantD.key.id))).toBe(caps.idempotencyRecords);
    expect((await redis.keys(`${stack.keyPrefix}:idem:${tenantD.key.id}:*`)).length).toBe(caps.idempotencyRecords);
    // A repeat of a stored one still answers.
    expect((await create('k0')).status).toBe(201);
  });

  it('rate-limits every route per key (429 with retry-after)', async () => {
    const tenantE = await makeKey('tenant-e', 'tenant');
    const started = Date.now();
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let batch = 0; batch * 25 < caps.keyRate + 10; batch += 1) {
      const answers = await Promise.all(Array.from({ length: 25 }, () => tenantE.api.request('GET', '/api/webhooks')));
      for (const answer of answers) {
        statuses.push(answer.status);
        if (answer.status === 429) retryAfter = answer.headers.get('retry-after');
      }
    }
    // A sliding window of a minute: within it, exactly `cap` pass (more only once the oldest have left it).
    const passed = statuses.filter((status) => status === 200).length;
    if (Date.now() - started < 55_000) expect(passed).toBe(caps.keyRate);
    else expect(passed).toBeGreaterThanOrEqual(caps.keyRate);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(await redis.zcard(keys().keyRate(tenantE.key.id))).toBeLessThanOrEqual(caps.keyRate);
    expect(await redis.pttl(keys().keyRate(tenantE.key.id))).toBeGreaterThan(0);
    // Other keys are not slowed by it.
    expect((await tenantA.api.request('GET', '/api/sessions')).status).toBe(200);
  }, 180_000);

  it('stops a revoked key at once, on REST and WebSocket; its sessions stay for administrators', async () => {
    expect((await tenantB.api.request('GET', '/api/sessions')).status).toBe(200);
    const revoked = await admin.request<{ key: Key }>('DELETE', `/api/keys/${tenantB.key.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.key).toMatchObject({ id: tenantB.key.id, name: 'tenant-b', scope: 'tenant' });
    const after = await tenantB.api.request<{ error: { code: string } }>('GET', '/api/sessions');
    expect(after.status).toBe(401);
    expect(await refusal(tenantB.secret)).toBe(401);
    // Its open connection receives nothing more: the administrator's gets the next event of B's session, B's not.
    expect((await admin.request('POST', '/api/simulator/sessions/tb-1/incoming', { body: { from: '15550200079', text: 'after-revoke' } })).status).toBe(202);
    await liveAdmin.waitFor((frame) => (frame.data as { body?: string } | undefined)?.body === 'after-revoke');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(JSON.stringify(liveB.frames)).not.toContain('after-revoke');
    expect(await redis.exists(keys().wsByKey(tenantB.key.id))).toBe(0);
    expect((await admin.request('GET', '/api/sessions/tb-1')).status).toBe(200);
    expect((await admin.request<{ keys: Key[] }>('GET', '/api/keys')).body.keys.map((key) => key.id)).not.toContain(tenantB.key.id);
  });

  it('answers 429 to an address after too many wrong keys, whatever key it presents next, until the window passes', async () => {
    await new Promise((resolve) => setTimeout(resolve, caps.failedWindowMs + 500)); // the revoked key's tries above count too
    const statuses: number[] = [];
    for (let index = 0; index < caps.failedKeys + 2; index += 1) {
      statuses.push((await admin.request('GET', '/api/sessions', { apiKey: `wrong-${index}` })).status);
    }
    expect(statuses).toEqual([...Array(caps.failedKeys).fill(401), 429, 429]);
    const right = await admin.request('GET', '/api/sessions');
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refusal(stack.apiKey)).toBe(429);
    const counted = await redis.keys(keys().failedKeyChecks('*'));
    expect(counted).toHaveLength(1);
    expect(await redis.zcard(counted[0] ?? '')).toBeLessThanOrEqual(caps.failedKeys + 1);
    expect(await redis.pttl(counted[0] ?? '')).toBeGreaterThan(0);
    await eventually('the window to pass', async () => ((await admin.request('GET', '/api/sessions')).status === 200 ? true : undefined), caps.failedWindowMs + 5_000);
  });
});
