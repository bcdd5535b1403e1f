/**
 * 2,400 generated requests over every route, through serverless offline, against a live session host: broken
 * JSON, wrong types, huge and empty bodies, unicode, traversal ids, odd headers and methods. None may answer 5xx,
 * the host must stay up, and no session may change: every generated request is one the contract refuses.
 * The generator is seeded, so a failure can be replayed with FUZZ_SEED.
 * fuzz-b stays in `qr` for the whole run: its QR must not rotate meanwhile (a rotation is a real change of the session,
 * its `updatedAt`), however long a loaded machine takes, so the host rotates QR codes once an hour here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chat, Session } from '../../contract/api.js';
import { eventually } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';

const total = 2_400;
const concurrency = 8;
const seed = Number(process.env.FUZZ_SEED ?? 20261124);
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    offlineEnv: { SEND_RATE_LIMIT: '0' },
    hostEnv: { SIMULATOR_QR_ROTATE_MS: '3600000', QR_MAX_ROTATIONS: '10000' },
  });
  expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId: 'fuzz-a' } })).status).toBe(201);
  expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId: 'fuzz-b' } })).status).toBe(201);
  await eventually('fuzz-a in qr', async () => ((await stack.api.request<{ session: Session }>('GET', '/api/sessions/fuzz-a')).body.session.status === 'qr' ? true : undefined));
  expect((await stack.api.request('POST', '/api/simulator/sessions/fuzz-a/scan', { body: { phone: '15550500001' } })).status).toBe(202);
  await eventually('fuzz-a connected', async () => ((await stack.api.request<{ session: Session }>('GET', '/api/sessions/fuzz-a')).body.session.status === 'connected' ? true : undefined));
  await Promise.all(Array.from({ length: concurrency }, () => stack.api.request('GET', '/api/sessions')));
});

afterAll(async () => {
  await stack?.stop();
});

/** mulberry32: small, fast, and the same sequence for the same seed. */
function random(seedValue: number): () => number {
  let state = seedValue >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

function generator(next: () => number, apiKey: string) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  // Ids that exist but must not change, ids that do not exist, and ids the contract refuses outright.
  const ids = [
    'fuzz-a', 'fuzz-b', 'nobody', 'x', 'a'.repeat(64), 'a'.repeat(65), '..', '.', '..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f',
    '..%5C..%5Cwindows', 'a%00b', '%00', 'ü', '%F0%9F%98%80', 'a b', 'a%20b', 'CON', '-', '_', 'a.b', '%252e%252e', 'null', '[]',
  ];
  const chatIds = ['15551234567', '+1 555-123-4567', 'abc', '', '%00', '1'.repeat(300), '123@g.us', 'x@c.us', '..%2F..', '😀', '15551234567@c.us'];
  const routes: Array<(id: string) => [string, string]> = [
    () => ['GET', '/api/sessions'],
    () => ['POST', '/api/sessions'],
    (id) => ['GET', `/api/sessions/${id}`],
    (id) => ['GET', `/api/sessions/${id}/qr`],
    (id) => ['DELETE', `/api/sessions/${id}`],
    (id) => ['POST', `/api/sessions/${id}/restart`],
    (id) => ['POST', `/api/messages/${id}/send`],
    (id) => ['GET', `/api/messages/${id}/chats`],
    (id) => ['GET', `/api/messages/${id}/chat/${pick(chatIds)}${pick(['', '?limit=0', '?limit=501', '?limit=-1', '?limit=abc', '?limit=1e3', '?limit=', '?limit=5&limit=6', '?x=1', '?limit=5'])}`],
    (id) => ['GET', `/api/messages/${id}/contacts`],
    (id) => ['POST', `/api/simulator/sessions/${id}/scan`],
    (id) => ['POST', `/api/simulator/sessions/${id}/incoming`],
    () => ['GET', '/api/health'],
    () => ['GET', pick(['/', '/api', '/api/', '/api/sessions/', '/api//sessions', '/API/sessions', '/api/sessions/fuzz-a/qr/x', '/api/messages', '/%2e%2e/api/sessions', '/api/sessions?%00', '/api/simulator'])],
  ];
  const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];
  const hugeText = 'y'.repeat(300_000);
  const bodies: Array<() => string | undefined> = [
    () => undefined,
    () => '',
    () => '{',
    () => '{"chatId": }',
    () => 'null',
    () => '[]',
    () => '"just a string"',
    () => '42',
    () => 'true',
    () => '{"__proto__": {"admin": true}}',
    () => '{"constructor": {"prototype": {"x": 1}}}',
    () => JSON.stringify({ chatId: 123, text: 'x' }),
    () => JSON.stringify({ chatId: pick(chatIds), text: '' }),
    () => JSON.stringify({ chatId: pick(chatIds), text: 'x'.repeat(65_537) }),
    () => JSON.stringify({ chatId: '15551234567', text: 'hi', extra: 'field' }),
    () => JSON.stringify({ chatId: '15551234567', text: ['array'] }),
    () => JSON.stringify({ chatId: null, text: null }),
    () => JSON.stringify({ text: 'missing chat' }),
    () => JSON.stringify({ chatId: '15551234567' }),
    () => JSON.stringify({ sessionId: pick(['../x', '', 'a'.repeat(65), 42, null, 'ü', 'a/b']) }),
    () => JSON.stringify({ sessionId: 'new-one', engine: 'simulator' }),
    () => JSON.stringify({ phone: pick(['abc', '+1555', '', '1'.repeat(20), 5]) }),
    () => JSON.stringify({ from: pick(chatIds), text: '' }),
    () => JSON.stringify({ from: 'nonsense', text: 'hi' }),
    () => JSON.stringify({ deeply: { nested: { value: Array.from({ length: 50 }, () => ({ a: [1, 2, { b: '😀' }] })) } } }),
    () => `{"text": "${hugeText}"}`,
    () => '\u0000\u0001\u0002',
    () => '{"chatId": "15551234567", "text": "\\ud800"}', // the JSON escape of a lone surrogate
    () => '\uFEFF{"a":1}',
    () => 'a=1&b=2',
  ];
  const contentTypes = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', 'application/json; charset=latin1', 'APPLICATION/JSON', 'application/vnd.api+json'];
  const keys = [apiKey, apiKey, apiKey, apiKey, '', 'wrong', `${apiKey} `, apiKey.toUpperCase(), `${apiKey}\u00e9`.slice(0, -1), 'x'.repeat(5_000)];
  return (): FuzzRequest => {
    let [method, path] = pick(routes)(pick(ids));
    if (next() < 0.2) method = pick(methods);
    const headers: Record<string, string> = {};
    const key = next() < 0.9 ? pick(keys) : undefined;
    if (key !== undefined) headers['x-api-key'] = key;
    let body = method === 'GET' || method === 'HEAD' ? undefined : pick(bodies)();
    // Routes whose fields are all optional accept an empty body (and serverless offline turns a JSON `null` into
    // none): give them a field they do not define, so that the request stays one the contract refuses.
    const noFields =
      (method === 'POST' && /^\/api\/(sessions(\/[^/]+\/restart)?|simulator\/sessions\/[^/]+\/scan)$/.test(path)) || method === 'DELETE';
    if (noFields && (body === undefined || body.trim() === '' || body === 'null' || body === '{}')) body = '{"unexpected": true}';
    if (next() < 0.85) headers['content-type'] = pick(contentTypes);
    if (next() < 0.2) headers.accept = pick(['image/png', '*/*', 'text/html', 'application/json']);
    if (next() < 0.1) headers['idempotency-key'] = pick(['k1', 'has space', 'x'.repeat(300), '']);
    if (next() < 0.05) headers['x-request-id'] = pick(['../../etc', 'x'.repeat(500), 'ok-id']);
    return body === undefined ? { method, path, headers } : { method, path, headers, body };
  };
}

/** What may never change under refused requests: the sessions and the connected one's chats. */
async function snapshot(): Promise<string> {
  const sessions = await stack.api.request<{ sessions: Session[] }>('GET', '/api/sessions');
  const chats = await stack.api.request<{ chats: Chat[] }>('GET', '/api/messages/fuzz-a/chats');
  return JSON.stringify({ sessions: sessions.body.sessions, chats: chats.body.chats });
}

/** A request the contract accepts would change state: the generator must produce none (checked, not assumed). */
function wouldMutate(request: FuzzRequest, apiKey: string): boolean {
  if (request.headers['x-api-key']?.trim() !== apiKey) return false;
  return request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS';
}

describe(`fuzz: ${total} generated requests (seed ${seed})`, () => {
  it('never answers 5xx, keeps the host up, and changes no session', async () => {
    const before = await snapshot();
    const next = generator(random(seed), stack.apiKey);
    const requests = Array.from({ length: total }, next);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const mutating: string[] = [];
    let index = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let request = requests[index++]; request !== undefined; request = requests[index++]) {
          const response = await fetch(`${stack.offline.httpUrl}${request.path}`, {
            method: request.method,
            headers: request.headers,
            body: request.body,
            signal: AbortSignal.timeout(60_000), // an answer at all is the point, not its time
          }).catch((error: unknown) => error);
          if (!(response instanceof Response)) {
            failures.push(`${request.method} ${request.path} ${JSON.stringify(request.headers).slice(0, 300)} body=${JSON.stringify(request.body?.slice(0, 80))}: ${String(response)}`);
            continue;
          }
          const text = await response.text();
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          if (response.status >= 500) failures.push(`${response.status} ${request.method} ${request.path} ${JSON.stringify(request.headers)} ${text.slice(0, 200)}`);
          if (response.status >= 200 && response.status < 300 && wouldMutate(request, stack.apiKey)) {
            mutating.push(`${response.status} ${request.method} ${request.path} ${request.body?.slice(0, 100) ?? ''}`);
          }
          // CORS preflights (OPTIONS) are answered by API Gateway itself, as by serverless offline: not our envelope.
          if (response.status >= 400 && request.method !== 'HEAD' && request.method !== 'OPTIONS') {
            const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
            if (typeof parsed.error?.code !== 'string' || typeof parsed.error.message !== 'string') failures.push(`no error envelope: ${request.method} ${request.path} ${text.slice(0, 200)}`);
          }
        }
      }),
    );
    if (failures.length > 0) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync('.local/fuzz-offline.log', stack.offline.process.output());
      writeFileSync('.local/fuzz-host.log', stack.hosts[0]?.output() ?? '');
    }
    expect(failures, failures.slice(0, 10).join('\n')).toEqual([]);
    expect(mutating.slice(0, 5), `the generator produced ${mutating.length} requests the contract accepts`).toEqual([]);
    expect([...statuses.keys()].every((status) => status < 500)).toBe(true);
    // Every kind of refusal was exercised.
    for (const status of [400, 401, 404, 405, 409, 413, 415]) expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(0);
    expect(stack.hosts[0]!.child.exitCode).toBeNull();
    expect((await stack.api.request('GET', '/api/health')).status).toBe(200);
    expect(await snapshot()).toBe(before);
  }, 600_000);
});
