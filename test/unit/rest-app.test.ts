/**
 * The Hono app alone, with fakes of its ports: the order of checks, the error envelope, and how errors from the
 * session host become HTTP answers. The real stack is covered by test/e2e.
 */
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../contract/commands.js';
import { ServiceError } from '../../contract/errors.js';
import { digestOfKey } from '../../functions/config.js';
import { createApp } from '../../functions/http/app.js';
import type { ApiDependencies } from '../../functions/http/dependencies.js';
import type { SessionEntry } from '../../lib/session-directory.js';
import { silentLogger } from '../support/redis.js';
import { unusedWebhooks } from '../support/fake-webhooks.js';

const key = 'unit-key';
const now = new Date().toISOString();

function record(id: string, status: SessionRecord['status'], qr: string | null = null): SessionRecord {
  return { id, status, engine: 'simulator', me: null, createdAt: now, updatedAt: now, lastError: null, qr };
}

function appWith(overrides: Partial<ApiDependencies> = {}, sessions: Record<string, SessionEntry> = {}) {
  const requests: unknown[] = [];
  const deps: ApiDependencies = {
    config: { engine: 'simulator', apiKeyDigests: [digestOfKey(key), digestOfKey('second-key')], commandTimeoutMs: 1_000 },
    logger: silentLogger(),
    ready: async () => undefined,
    ping: async () => true,
    directory: {
      get: async (id) => sessions[id] ?? null,
      page: async () => ({ entries: Object.values(sessions), next: null }),
      placeSession: async () => 'h1',
    },
    bus: {
      request: async (target, command) => {
        requests.push({ target, command });
        throw new ServiceError('TIMEOUT', 'no answer');
      },
    },
    idempotency: { run: async (_scope, _key, _request, action) => action() },
    sendRateLimiter: { take: async () => undefined },
    webhooks: unusedWebhooks,
    ...overrides,
  };
  const app = createApp(deps);
  const call = (method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) =>
    app.request(path, { method, body: init.body, headers: { 'x-api-key': key, ...init.headers } });
  return { app, call, requests };
}

describe('REST app', () => {
  it('checks the key before the route: 401 on unknown routes too, and accepts any configured key', async () => {
    const { app } = appWith();
    for (const [method, path] of [['GET', '/api/sessions'], ['GET', '/nope'], ['PATCH', '/api/sessions/a']] as const) {
      const response = await app.request(path, { method });
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    }
    expect((await app.request('/api/sessions', { headers: { 'x-api-key': 'second-key' } })).status).toBe(200);
    expect((await app.request('/api/sessions', { headers: { 'x-api-key': 'unit-keyx' } })).status).toBe(401);
    expect((await app.request('/api/sessions', { headers: { 'X-API-KEY': key } })).status).toBe(200);
  });

  it('refuses to serve at all with no key configured (fail closed), but still answers health', async () => {
    const { app } = appWith({ config: { engine: 'webjs', apiKeyDigests: [], commandTimeoutMs: 1_000 } });
    for (const key of ['', 'anything']) {
      const response = await app.request('/api/sessions', { headers: { 'x-api-key': key } });
      expect(response.status).toBe(401);
    }
    expect((await app.request('/api/health')).status).toBe(200);
  });

  it('answers health 503 when Redis does not', async () => {
    const { app } = appWith({ ping: async () => false });
    const response = await app.request('/api/health');
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'SERVICE_UNAVAILABLE' } });
  });

  it('answers 404 for unknown paths and 405 with allow for wrong methods', async () => {
    const { call } = appWith();
    const notFound = await call('GET', '/api/sessionz');
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const wrongMethod = await call('PUT', '/api/sessions/alice');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, DELETE');
  });

  it('hides the simulator routes unless the simulator is the engine', async () => {
    const { call } = appWith({ config: { engine: 'webjs', apiKeyDigests: [digestOfKey(key)], commandTimeoutMs: 1_000 } });
    const response = await call('POST', '/api/simulator/sessions/alice/scan', { body: '{}', headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(404);
  });

  it('maps host errors to the contract status codes', async () => {
    const sessions = { alice: { record: record('alice', 'connected'), ownerHostId: 'h1' } };
    for (const [code, status] of [
      ['TIMEOUT', 504],
      ['SESSION_HOST_UNAVAILABLE', 503],
      ['WHATSAPP_UNREACHABLE', 502],
      ['SESSION_NOT_CONNECTED', 409],
    ] as const) {
      const { call } = appWith(
        {
          bus: {
            request: async () => {
              throw new ServiceError(code, 'from the host');
            },
          },
        },
        sessions,
      );
      const response = await call('GET', '/api/messages/alice/chats');
      expect(response.status).toBe(status);
      expect(await response.json()).toEqual({ error: { code, message: 'from the host' } });
    }
  });

  it('answers SESSION_HOST_UNAVAILABLE at once when no live host owns the session', async () => {
    const { call, requests } = appWith({}, { alice: { record: record('alice', 'connected'), ownerHostId: null } });
    const response = await call('POST', '/api/messages/alice/send', {
      body: JSON.stringify({ chatId: '15551234567', text: 'hi' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(503);
    expect(requests).toHaveLength(0);
  });

  it('answers a bug with INTERNAL and a request id, never a stack trace', async () => {
    const { call } = appWith({
      directory: {
        get: async () => {
          throw new TypeError('cannot read properties of undefined (at secret.ts:12)');
        },
        page: async () => ({ entries: [], next: null }),
        placeSession: async () => null,
      },
    });
    const response = await call('GET', '/api/sessions/alice', { headers: { 'x-request-id': 'req-42' } });
    expect(response.status).toBe(500);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('INTERNAL');
    expect(body.error.message).toContain('req-42');
    expect(JSON.stringify(body)).not.toContain('secret.ts');
    expect(response.headers.get('x-request-id')).toBe('req-42');
  });

  it('answers 503 quickly, not a hang, when Redis is away', async () => {
    const { call } = appWith({
      ready: async () => {
        throw new ServiceError('SERVICE_UNAVAILABLE', 'Redis is not reachable right now.');
      },
    });
    const response = await call('GET', '/api/sessions');
    expect(response.status).toBe(503);
  });

  it('refuses a JSON body that is not an object, and fields on routes that define none', async () => {
    const { call } = appWith({}, { alice: { record: record('alice', 'connected'), ownerHostId: 'h1' } });
    for (const body of ['null', '[]', '"x"', '42']) {
      const response = await call('POST', '/api/sessions', { body, headers: { 'content-type': 'application/json' } });
      expect(response.status, body).toBe(400);
    }
    const withFields = await call('DELETE', '/api/sessions/alice', { body: '{"force":true}', headers: { 'content-type': 'application/json' } });
    expect(withFields.status).toBe(400);
  });

  it('serves QR only in qr, with the status in the details otherwise', async () => {
    const { call } = appWith({}, {
      waiting: { record: record('waiting', 'qr', '2@abc'), ownerHostId: 'h1' },
      done: { record: record('done', 'connected'), ownerHostId: 'h1' },
    });
    const qr = await call('GET', '/api/sessions/waiting/qr');
    expect(qr.status).toBe(200);
    expect(await qr.json()).toMatchObject({ qr: '2@abc', dataUrl: expect.stringMatching(/^data:image\/png;base64,/) });
    const refused = await call('GET', '/api/sessions/done/qr');
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: { code: 'QR_NOT_AVAILABLE', details: { status: 'connected' } } });
  });

  it('never lists the QR in a session', async () => {
    const { call } = appWith({}, { waiting: { record: record('waiting', 'qr', '2@abc'), ownerHostId: 'h1' } });
    const listed = (await (await call('GET', '/api/sessions')).json()) as { sessions: Array<Record<string, unknown>> };
    expect(listed.sessions[0]).not.toHaveProperty('qr');
  });
});

describe('REST app: send limits', () => {
  it('answers 429 with retry-after when the session sends too fast', async () => {
    const { call } = appWith(
      {
        sendRateLimiter: {
          take: async () => {
            throw new ServiceError('RATE_LIMITED', 'slow down', { details: { retryAfterSeconds: 7 } });
          },
        },
      },
      { alice: { record: record('alice', 'connected'), ownerHostId: 'h1' } },
    );
    const response = await call('POST', '/api/messages/alice/send', {
      body: JSON.stringify({ chatId: '15551234567', text: 'hi' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('7');
  });

  it('refuses a malformed Idempotency-Key', async () => {
    const { call } = appWith({}, { alice: { record: record('alice', 'connected'), ownerHostId: 'h1' } });
    const response = await call('POST', '/api/messages/alice/send', {
      body: JSON.stringify({ chatId: '15551234567', text: 'hi' }),
      headers: { 'content-type': 'application/json', 'idempotency-key': 'has spaces in it' },
    });
    expect(response.status).toBe(400);
  });
});

describe('REST app: media', () => {
  const json = { 'content-type': 'application/json' };
  const connected = { alice: { record: record('alice', 'connected'), ownerHostId: 'h1' } };
  /** A blob store in memory (a fake of our own port; the real ones have their own tests). */
  function memoryBlobs() {
    const puts = new Map<string, { bytes: Buffer; contentType: string; filename: string | undefined }>();
    return {
      puts,
      blobs: {
        put: async (blobKey: string, body: Uint8Array | NodeJS.ReadableStream, options: { contentType: string; filename?: string }) => {
          const bytes = Buffer.from(body as Uint8Array);
          puts.set(blobKey, { bytes, contentType: options.contentType, filename: options.filename });
          return { key: blobKey, size: bytes.byteLength };
        },
        get: async () => null,
        signedUrl: async (blobKey: string) => `https://blobs.example/${blobKey}?signed`,
      },
    };
  }

  it('puts media sent as data in the blob store and sends the command with its key, never the bytes', async () => {
    const { blobs, puts } = memoryBlobs();
    const { call, requests } = appWith({ media: { blobs, fetch: {} } }, connected);
    const bytes = Buffer.from('not really a png');
    await call('POST', '/api/messages/alice/send', {
      body: JSON.stringify({ chatId: '15551234567', media: { data: bytes.toString('base64'), mimetype: 'image/png', filename: '../../cat.png' } }),
      headers: json,
    });
    const [stored] = [...puts.entries()];
    expect(stored?.[1]).toEqual({ bytes, contentType: 'image/png', filename: 'cat.png' });
    expect(requests).toEqual([
      expect.objectContaining({
        command: expect.objectContaining({
          type: 'send',
          content: { kind: 'media', blobKey: stored?.[0], mimetype: 'image/png', filename: 'cat.png', caption: null, asVoice: false },
        }),
      }),
    ]);
    expect(JSON.stringify(requests)).not.toContain(bytes.toString('base64'));
  });

  it('refuses a media url on a loopback, metadata or private address unless allowed, before anything is sent', async () => {
    const { blobs, puts } = memoryBlobs();
    const { call, requests } = appWith({ media: { blobs, fetch: { allowPrivate: false } } }, connected);
    for (const url of ['http://127.0.0.1/x.png', 'https://127.0.0.1/x.png', 'https://169.254.169.254/latest/meta-data', 'https://10.0.0.7/x.png', 'https://[::1]/x.png']) {
      const response = await call('POST', '/api/messages/alice/send', {
        body: JSON.stringify({ chatId: '15551234567', media: { url, mimetype: 'image/png' } }),
        headers: json,
      });
      expect(response.status, url).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED', details: { fields: [{ path: 'media.url' }] } } });
    }
    expect(puts.size).toBe(0);
    expect(requests).toHaveLength(0);
  });

  it('redirects a download to the blob store’s short-lived URL', async () => {
    const { blobs } = memoryBlobs();
    const { call } = appWith(
      {
        media: { blobs, fetch: {} },
        bus: { request: async () => ({ blobKey: 'media/alice/abc', mimetype: 'image/png', filename: null, size: 3 }) as never },
      },
      connected,
    );
    const response = await call('GET', `/api/messages/alice/message/${encodeURIComponent('false_15551234567@c.us_AB12')}/media`);
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('https://blobs.example/media/alice/abc?signed');
  });

  it('refuses message ids that are not WhatsApp ids', async () => {
    const { call, requests } = appWith({}, connected);
    for (const id of ['x', 'true_../../etc', 'true_a b_c', `true_${'a'.repeat(300)}`]) {
      const response = await call('GET', `/api/messages/alice/message/${encodeURIComponent(id)}/media`);
      expect(response.status, id).toBe(400);
    }
    expect(requests).toHaveLength(0);
  });
});

describe('REST app: Idempotency-Key on the host', () => {
  it('scopes the key the host records per API key, as the function scopes its own record', async () => {
    const connected = { alice: { record: record('alice', 'connected'), ownerHostId: 'h1' } };
    const { app, requests } = appWith({}, connected);
    const body = JSON.stringify({ chatId: '15551234567', text: 'hi' });
    for (const apiKey of [key, 'second-key']) {
      await app.request('/api/messages/alice/send', {
        method: 'POST',
        body,
        headers: { 'x-api-key': apiKey, 'content-type': 'application/json', 'idempotency-key': 'order-1' },
      });
    }
    const sent = requests.map((request) => (request as { command: { idempotencyKey?: string } }).command.idempotencyKey);
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatch(/:order-1$/);
    expect(sent[1]).toMatch(/:order-1$/);
    expect(sent[0]).not.toBe(sent[1]);
  });
});
