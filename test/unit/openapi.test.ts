/**
 * The routes declared once (functions/http/api-routes.ts) and what comes from them: the OpenAPI document, the 405
 * table, the routes that need no key, and validation in the contract's envelope. The app runs alone, with fakes.
 */
import { gunzipSync } from 'node:zlib';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { sendMessageBodySchema } from '../../contract/api.js';
import type { SessionRecord } from '../../contract/commands.js';
import { ServiceError } from '../../contract/errors.js';
import { digestOfKey } from '../../functions/config.js';
import { createApp } from '../../functions/http/app.js';
import type { ApiDependencies } from '../../functions/http/dependencies.js';
import { installedSwaggerUi } from '../../functions/http/docs/swagger-ui-assets.js';
import * as generated from '../../functions/http/docs/swagger-ui-assets.generated.js';
import type { SessionEntry } from '../../lib/session-directory.js';
import { silentLogger } from '../support/redis.js';
import { unusedWebhooks } from '../support/fake-webhooks.js';

const key = 'unit-key';
const now = new Date().toISOString();
const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
  security: unknown[];
}

function record(id: string, status: SessionRecord['status'], qr: string | null = null): SessionRecord {
  return { id, status, engine: 'simulator', me: null, createdAt: now, updatedAt: now, lastError: null, qr };
}

function appWith(engine: 'simulator' | 'webjs' = 'simulator') {
  const sessions: Record<string, SessionEntry> = {
    alice: { record: record('alice', 'connected'), ownerHostId: 'h1' },
    waiting: { record: record('waiting', 'qr', '2@abc'), ownerHostId: 'h1' },
  };
  const deps: ApiDependencies = {
    config: { engine, apiKeyDigests: [digestOfKey(key)], commandTimeoutMs: 1_000 },
    logger: silentLogger(),
    ready: async () => undefined,
    ping: async () => true,
    directory: {
      get: async (id) => sessions[id] ?? null,
      page: async () => ({ entries: Object.values(sessions), next: null }),
      placeSession: async () => 'h1',
    },
    bus: {
      request: async () => {
        throw new ServiceError('TIMEOUT', 'no answer');
      },
    },
    idempotency: { run: async (_scope, _key, _request, action) => action() },
    sendRateLimiter: { take: async () => undefined },
    webhooks: unusedWebhooks,
  };
  const app = createApp(deps);
  const call = (method: string, path: string, init: { body?: string; headers?: Record<string, string>; apiKey?: string | null } = {}) =>
    app.request(path, {
      method,
      body: init.body,
      headers: { ...(init.apiKey === null ? {} : { 'x-api-key': init.apiKey ?? key }), ...init.headers },
    });
  const document = async () => (await (await call('GET', '/api/openapi.json', { apiKey: null })).json()) as OpenApiDocument;
  return { app, call, document };
}

/** What the app's router serves, read off the router itself (not a list kept here): `[method, OpenAPI path]`. */
function servedRoutes(app: ReturnType<typeof appWith>['app']): Array<[string, string]> {
  const seen = new Set<string>();
  for (const route of app.routes) {
    if (route.method === 'ALL') continue; // middleware
    seen.add(`${route.method} ${route.path.replace(/:([^/]+)/g, '{$1}')}`);
  }
  return [...seen].map((entry) => entry.split(' ') as [string, string]);
}

/** A concrete path of an OpenAPI path, with parameters that pass validation. */
function concrete(path: string): string {
  return path.replace('{sessionId}', 'alice').replace('{chatId}', '15551234567').replace('{contactId}', '15551234567');
}

function documentedOperations(document: OpenApiDocument): Array<[string, string]> {
  return Object.entries(document.paths).flatMap(([path, operations]) =>
    Object.keys(operations).map((method): [string, string] => [method.toUpperCase(), path]),
  );
}

describe('the OpenAPI document', () => {
  it.each(['simulator', 'webjs'] as const)('has every route the app serves, with its methods, and nothing else (%s)', async (engine) => {
    const { app, document } = appWith(engine);
    const served = servedRoutes(app);
    expect(served.length).toBeGreaterThan(15);
    const documented = documentedOperations(await document());
    expect(documented.map(([method, path]) => `${method} ${path}`).sort()).toEqual(served.map(([method, path]) => `${method} ${path}`).sort());
    const simulatorRoutes = served.filter(([, path]) => path.startsWith('/api/simulator/'));
    expect(simulatorRoutes.length).toBe(engine === 'simulator' ? 3 : 0);
  });

  it('answers every documented operation with something other than 404 or 405', async () => {
    const { call, document } = appWith();
    for (const [method, path] of documentedOperations(await document())) {
      const response = await call(method, concrete(path), method === 'GET' ? {} : { body: '{}', headers: { 'content-type': 'application/json' } });
      expect([404, 405], `${method} ${path}: ${response.status}`).not.toContain(response.status);
    }
  });

  it('validates as OpenAPI 3.1', async () => {
    const { document } = appWith();
    const doc = await document();
    expect(doc.openapi).toMatch(/^3\.1\./);
    const result = await new Validator().validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('names the shared schemas, the key scheme, and the WebSocket frames', async () => {
    const doc = await appWith().document();
    for (const name of ['Session', 'Message', 'Chat', 'Contact', 'Identity', 'WsClientAction', 'WsServerFrame', 'ConnectionUpdateEvent', 'MessageEvent', 'MessageAckEvent', 'MessageReactionEvent', 'MessageEditedEvent', 'MessageRevokedEvent', 'Media', 'Location', 'SendMedia', 'ResumeAction', 'ResumedFrame', 'ErrorFrame']) {
      expect(doc.components.schemas, name).toHaveProperty(name);
    }
    expect(doc.components.securitySchemes.apiKey).toEqual({ type: 'apiKey', in: 'header', name: 'x-api-key' });
    expect(doc.security).toEqual([{ apiKey: [] }]);
  });

  it('offers a send example per content, and says the send route takes bodies up to 6 MB', async () => {
    const doc = await appWith().document();
    const send = (doc.paths['/api/messages/{sessionId}/send'] as unknown as Record<string, { requestBody: Record<string, unknown> }>).post?.requestBody;
    expect(send?.['x-max-body-bytes']).toBe(6 * 1024 * 1024);
    const content = (send?.content ?? {}) as Record<string, { examples: Record<string, { value: unknown }> }>;
    const examples = content['application/json']?.examples ?? {};
    expect(Object.keys(examples)).toEqual(['text', 'imageByData', 'documentByUrl', 'location', 'reply']);
    for (const [name, example] of Object.entries(examples)) expect(sendMessageBodySchema.safeParse(example.value).success, name).toBe(true);
  });

  it('lists the error answers of each operation under their status, in the contract envelope', async () => {
    const doc = await appWith().document();
    const send = doc.paths['/api/messages/{sessionId}/send']?.post;
    expect(Object.keys(send?.responses ?? {}).sort()).toEqual(['201', '400', '401', '404', '409', '413', '415', '422', '429', '500', '502', '503', '504']);
    expect(JSON.stringify(send?.responses['422'])).toContain('RECIPIENT_NOT_ON_WHATSAPP');
    expect(JSON.stringify(doc.paths['/api/messages/{sessionId}/contacts/{contactId}']?.get?.responses['404'])).toContain('CONTACT_NOT_FOUND');
    expect(doc.paths['/api/sessions/{sessionId}/pairing-code']?.post).toBeDefined();
    expect(doc.paths['/api/simulator/sessions/{sessionId}/pair']?.post).toBeDefined();
    expect(JSON.stringify(doc.paths['/api/sessions']?.get)).toContain('cursor');
  });
});

describe('the 405 table', () => {
  it('answers 405 with allow for every other method on every declared path', async () => {
    const { call, document } = appWith();
    const doc = await document();
    for (const [path, operations] of Object.entries(doc.paths)) {
      const allowed = Object.keys(operations).map((method) => method.toUpperCase());
      for (const method of methods.filter((candidate) => !allowed.includes(candidate))) {
        const response = await call(method, concrete(path), { body: method === 'GET' ? undefined : '{}', headers: { 'content-type': 'application/json' } });
        expect(response.status, `${method} ${path}`).toBe(405);
        expect(response.headers.get('allow')?.split(', ').sort(), `${method} ${path}`).toEqual([...allowed].sort());
        expect(await response.json()).toMatchObject({ error: { code: 'METHOD_NOT_ALLOWED', details: { allow: expect.any(Array) } } });
      }
    }
  });

  it('does not know the simulator paths unless the simulator is the engine', async () => {
    const { call } = appWith('webjs');
    const response = await call('GET', '/api/simulator/sessions/alice/scan');
    expect(response.status).toBe(404);
  });
});

describe('keys', () => {
  it('serves the document, its page and health without a key', async () => {
    const { call } = appWith();
    const openapi = await call('GET', '/api/openapi.json', { apiKey: null });
    expect(openapi.status).toBe(200);
    expect(openapi.headers.get('content-type')).toMatch(/^application\/json/);
    const page = await call('GET', '/api/docs', { apiKey: null });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('docs/swagger-ui-bundle.js');
    expect(html).not.toMatch(/https?:\/\//);
    for (const asset of ['/api/docs/swagger-ui-bundle.js', '/api/docs/swagger-ui.css']) {
      expect((await call('GET', asset, { apiKey: null })).status, asset).toBe(200);
    }
    expect((await call('GET', '/api/health', { apiKey: null })).status).toBe(200);
  });

  it('answers 401 first to everything else without a key, whatever the route or method', async () => {
    const { call, document } = appWith();
    const doc = await document();
    for (const [method, path] of documentedOperations(doc)) {
      if (doc.paths[path]?.[method.toLowerCase()]?.security?.length === 0) continue;
      for (const apiKey of [null, 'wrong']) {
        const response = await call(method, concrete(path), { apiKey, body: method === 'GET' ? undefined : '{"nonsense": 1}' });
        expect(response.status, `${method} ${path}`).toBe(401);
      }
    }
    for (const [method, path] of [['POST', '/api/openapi.json'], ['DELETE', '/api/docs'], ['GET', '/api/nope'], ['PUT', '/api/sessions']]) {
      expect((await call(method!, path!, { apiKey: null })).status, `${method} ${path}`).toBe(401);
    }
  });

  it('marks exactly the routes that need no key as such in the document', async () => {
    const doc = await appWith().document();
    const open = documentedOperations(doc).filter(([method, path]) => doc.paths[path]?.[method.toLowerCase()]?.security?.length === 0);
    expect(open.map(([method, path]) => `${method} ${path}`).sort()).toEqual(
      [
        'GET /',
        'GET /api/docs',
        'GET /api/docs/swagger-ui-bundle.js',
        'GET /api/docs/swagger-ui.css',
        'GET /api/health',
        'GET /api/openapi.json',
        'GET /dashboard',
        'GET /dashboard/app.js',
      ],
    );
  });
});

describe('validation from the declarations', () => {
  const jsonHeaders = { 'content-type': 'application/json' };
  type Refusal = { error: { code: string; message: string; details?: { fields?: Array<{ path: string; message: string }> } } };

  it('names path parameters, query fields, headers and body fields as before', async () => {
    const { call } = appWith();
    const cases: Array<[string, string, { body?: string; headers?: Record<string, string> }, string]> = [
      ['GET', '/api/sessions/a.b', {}, 'sessionId'],
      ['GET', '/api/messages/alice/chat/nonsense', {}, 'chatId'],
      ['GET', '/api/messages/alice/contacts/nonsense', {}, 'contactId'],
      ['GET', '/api/messages/alice/chat/15551234567?limit=0', {}, 'query.limit'],
      ['GET', '/api/messages/alice/chat/15551234567?offset=2', {}, 'query.offset'],
      ['GET', '/api/sessions?cursor=bm9wZQ', {}, 'query.cursor'],
      ['POST', '/api/messages/alice/send', { body: '{"chatId":"15551234567","text":"hi"}', headers: { ...jsonHeaders, 'idempotency-key': 'has spaces' } }, 'header.idempotency-key'],
      ['POST', '/api/messages/alice/send', { body: '{"chatId":"15551234567","text":""}', headers: jsonHeaders }, 'text'],
      ['POST', '/api/sessions', { body: '{"sessionId":"../etc"}', headers: jsonHeaders }, 'sessionId'],
    ];
    for (const [method, path, init, field] of cases) {
      const response = await call(method, path, init);
      expect(response.status, `${method} ${path}`).toBe(400);
      const body = (await response.json()) as Refusal;
      expect(body.error.code).toBe('VALIDATION_FAILED');
      expect(body.error.details?.fields?.map((entry) => entry.path), `${method} ${path}`).toEqual([field]);
    }
  });

  it('refuses fields a route does not define, each by name', async () => {
    const { call } = appWith();
    const response = await call('POST', '/api/messages/alice/send', { body: '{"chatId":"15551234567","text":"hi","mood":1,"extra":2}', headers: jsonHeaders });
    expect(response.status).toBe(400);
    const body = (await response.json()) as Refusal;
    expect(body.error.details?.fields).toEqual([
      { path: 'mood', message: 'is not a field of this route' },
      { path: 'extra', message: 'is not a field of this route' },
    ]);
  });

  it('keeps the body rules: 413 over the limit, 415 when not JSON, 400 when not a JSON object, empty reads as {}', async () => {
    const { call } = appWith();
    const big = await call('POST', '/api/sessions', { body: JSON.stringify({ sessionId: 'y'.repeat(300_000) }), headers: jsonHeaders });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', details: { maxBytes: 256 * 1024 } } });
    // The send route takes media inline: its limit is 6 MB (declared on the route), so 300 KB is only a long text…
    const longText = await call('POST', '/api/messages/alice/send', { body: JSON.stringify({ chatId: '15551234567', text: 'y'.repeat(300_000) }), headers: jsonHeaders });
    expect(await longText.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED', details: { fields: [{ path: 'text' }] } } });
    // …and over 6 MB is refused before it is parsed.
    const huge = await call('POST', '/api/messages/alice/send', { body: JSON.stringify({ chatId: '1', text: 'y'.repeat(6 * 1024 * 1024) }), headers: jsonHeaders });
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', details: { maxBytes: 6 * 1024 * 1024 } } });
    const form = await call('POST', '/api/messages/alice/send', { body: 'chatId=1&text=hi', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(415);
    expect(await form.json()).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
    const broken = await call('POST', '/api/messages/alice/send', { body: '{"chatId": ', headers: jsonHeaders });
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED', details: { fields: [{ path: '(root)' }] } } });
    const array = await call('POST', '/api/sessions', { body: '[1]', headers: jsonHeaders });
    expect(await array.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED', details: { fields: [{ path: '(root)', message: 'must be a JSON object' }] } } });
    // An empty body is `{}`, whatever its content type: a route whose fields are all optional takes it (here the
    // fake host times out, which is past validation).
    for (const headers of [{}, { 'content-type': 'text/plain' }, jsonHeaders]) {
      const empty = await call('POST', '/api/sessions/alice/restart', { body: '', headers });
      expect(empty.status, JSON.stringify(headers)).toBe(504);
    }
    const missing = await call('POST', '/api/messages/alice/send', { body: '', headers: {} });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as Refusal).error.details?.fields?.map((entry) => entry.path).sort()).toEqual(['(root)', 'chatId']);
  });

  it('hands the handler what the schemas produce (a phone number becomes a chat id)', async () => {
    const requests: unknown[] = [];
    const response = await appWithBus(requests).call('GET', '/api/messages/alice/chat/+1%20555-123-4567?limit=7');
    expect(response.status).toBe(200);
    expect(requests).toEqual([{ type: 'messages', chatId: '15551234567@c.us', limit: 7 }]);
  });
});

/** An app whose host answers every command with an empty result, recording the commands. */
function appWithBus(requests: unknown[]) {
  const app = createApp({
    config: { engine: 'simulator', apiKeyDigests: [digestOfKey(key)], commandTimeoutMs: 1_000 },
    logger: silentLogger(),
    ready: async () => undefined,
    ping: async () => true,
    directory: {
      get: async (id) => (id === 'alice' ? { record: record('alice', 'connected'), ownerHostId: 'h1' } : null),
      page: async () => ({ entries: [], next: null }),
      placeSession: async () => 'h1',
    },
    bus: {
      request: async (_target, command) => {
        requests.push(command);
        return { messages: [] } as never;
      },
    },
    idempotency: { run: async (_scope, _key, _request, action) => action() },
    sendRateLimiter: { take: async () => undefined },
    webhooks: unusedWebhooks,
  });
  return { call: (method: string, path: string) => app.request(path, { method, headers: { 'x-api-key': key } }) };
}

describe('the docs page assets', () => {
  it('are the installed swagger-ui-dist, byte for byte (run functions/http/docs/swagger-ui-assets.ts after an upgrade)', () => {
    const installed = installedSwaggerUi();
    expect(generated.swaggerUiVersion).toBe(installed.version);
    expect(gunzipSync(Buffer.from(generated.swaggerUiScriptGzipBase64, 'base64')).toString('utf8') === installed.script).toBe(true);
    expect(gunzipSync(Buffer.from(generated.swaggerUiStyleGzipBase64, 'base64')).toString('utf8') === installed.style).toBe(true);
  });
});
