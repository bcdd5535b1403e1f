/** The tests' typed client (test/support/typed-api.ts): its types follow the route declarations, its calls the routes. */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { SessionRecord } from '../../contract/commands.js';
import { digestOfKey } from '../../functions/config.js';
import { createApp } from '../../functions/http/app.js';
import type { ApiClient, ApiResponse } from '../support/http-client.js';
import { silentLogger } from '../support/redis.js';
import { typedApi } from '../support/typed-api.js';
import { unusedWebhooks } from '../support/fake-webhooks.js';

const key = 'unit-key';
const now = new Date().toISOString();
const alice: SessionRecord = { id: 'alice', status: 'connected', engine: 'simulator', me: null, createdAt: now, updatedAt: now, lastError: null, qr: null };

function client() {
  const commands: unknown[] = [];
  const app = createApp({
    config: { engine: 'simulator', apiKeyDigests: [digestOfKey(key)], commandTimeoutMs: 1_000 },
    logger: silentLogger(),
    ready: async () => undefined,
    ping: async () => true,
    directory: {
      get: async (id) => (id === 'alice' ? { record: alice, ownerHostId: 'h1' } : null),
      page: async () => ({ entries: [{ record: alice, ownerHostId: 'h1' }], next: null }),
      placeSession: async () => 'h1',
    },
    bus: {
      request: async (_target, command) => {
        commands.push(command);
        return { messages: [] } as never;
      },
    },
    idempotency: { run: async (_scope, _key, _request, action) => action() },
    sendRateLimiter: { take: async () => undefined },
    webhooks: unusedWebhooks,
  });
  // The same ApiClient the e2e tests use, over app.request instead of the network.
  const raw: ApiClient = {
    async request<T>(method: string, path: string, options: Parameters<ApiClient['request']>[2] = {}): Promise<ApiResponse<T>> {
      const headers: Record<string, string> = { ...options.headers };
      const apiKey = options.apiKey === undefined ? key : options.apiKey;
      if (apiKey !== null) headers['x-api-key'] = apiKey;
      const body = options.body === undefined ? options.rawBody : JSON.stringify(options.body);
      if (options.body !== undefined) headers['content-type'] ??= 'application/json';
      const response = await app.request(path, { method, headers, body });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: JSON.parse(text) as T, text };
    },
  };
  return { api: typedApi(raw), commands };
}

describe('typed test client', () => {
  it('fills the path, the query and the headers, and types the answer by status', async () => {
    const { api, commands } = client();
    const session = await api.call('getSession', { params: { sessionId: 'alice' } });
    expect(session.status).toBe(200);
    if (session.status === 200) {
      expectTypeOf(session.body.session.status).toEqualTypeOf<'starting' | 'qr' | 'authenticated' | 'connected' | 'disconnected' | 'failed'>();
      expect(session.body.session.id).toBe('alice');
    }
    if (session.status === 404) expectTypeOf(session.body.error.code).toBeString();

    const history = await api.call('getChatMessages', { params: { sessionId: 'alice', chatId: '+1 555 123 4567' }, query: { limit: '3' } });
    expect(history.status).toBe(200);
    expect(commands).toEqual([{ type: 'messages', chatId: '15551234567@c.us', limit: 3 }]);

    const refused = await api.call('sendMessage', {
      params: { sessionId: 'alice' },
      headers: { 'idempotency-key': 'not valid' },
      body: { chatId: '15551234567', text: 'hi' },
    });
    expect(refused.status).toBe(400);
    if (refused.status === 400) expect(refused.body.error.details).toMatchObject({ fields: [{ path: 'header.idempotency-key' }] });

    const listed = await api.call('listSessions');
    expect(listed.status).toBe(200);
    const anonymous = await api.call('listSessions', { apiKey: null });
    expect(anonymous.status).toBe(401);
    expect(api.pathOf('getContact', { sessionId: 'a', contactId: '1@lid' })).toBe('/api/messages/a/contacts/1%40lid');
  });

  it('refuses at compile time what the declarations refuse', () => {
    const { api } = client();
    // Type-level only: none of these calls runs.
    const compileOnly = () => {
      // @ts-expect-error getSession needs its sessionId
      void api.call('getSession');
      // @ts-expect-error a send needs a chatId
      void api.call('sendMessage', { params: { sessionId: 'a' }, body: { text: 'hi' } });
      // @ts-expect-error no such route
      void api.call('nope');
      void api.call('createSession');
      void api.call('createSession', { body: { sessionId: 'a' } });
    };
    expect(typeof compileOnly).toBe('function');
  });
});
