/**
 * Issue 15's findings on the REST app, in-process and through the Lambda adapter with the events API Gateway sends:
 * paths that mean another path, repeated keys, empty Idempotency-Keys, Redis out of memory, the maximum stream id,
 * and log lines free of phone numbers and Redis command arguments.
 */
import { Writable } from 'node:stream';
import { handle } from 'hono/aws-lambda';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../contract/errors.js';
import { clientActionSchema, isStreamId } from '../../contract/events.js';
import { digestOfKey } from '../../functions/config.js';
import { createApp } from '../../functions/http/app.js';
import type { ApiDependencies } from '../../functions/http/dependencies.js';
import { isSingleKey, maskPath } from '../../functions/http/middleware.js';
import { serializeError } from '../../lib/logger.js';
import { isRedisUnavailableError } from '../../lib/redis.js';
import type { SessionEntry } from '../../lib/session-directory.js';
import { unusedWebhooks } from '../support/fake-webhooks.js';
import { silentLogger } from '../support/redis.js';

const key = 'unit-key';
const now = new Date().toISOString();

function entry(id: string): SessionEntry {
  return { record: { id, status: 'connected', engine: 'simulator', me: null, createdAt: now, updatedAt: now, lastError: null, qr: null }, owner: 'h1' } as unknown as SessionEntry;
}

function appWith(overrides: Partial<ApiDependencies> = {}) {
  const deleted: string[] = [];
  const deps: ApiDependencies = {
    config: { engine: 'simulator', apiKeyDigests: [digestOfKey(key)], commandTimeoutMs: 1_000 },
    logger: silentLogger(),
    ready: async () => undefined,
    ping: async () => true,
    directory: {
      get: async (id) => (id === 'X' || id === 'zzz' ? entry(id) : null),
      page: async () => ({ entries: [entry('X')], next: null }),
      placeSession: async () => 'h1',
    },
    bus: {
      request: async (_target, command) => {
        deleted.push(JSON.stringify(command));
        throw new ServiceError('TIMEOUT', 'no answer');
      },
    },
    idempotency: { run: async (_scope, _key, _request, action) => action() },
    sendRateLimiter: { take: async () => undefined },
    webhooks: unusedWebhooks,
    ...overrides,
  } as ApiDependencies;
  return { app: createApp(deps, { emitMetrics: null }), commands: deleted };
}

type LambdaHandler = ReturnType<typeof handle>;
type LambdaResult = { statusCode: number; body: string };

/** An HTTP API (payload 2.0) event as API Gateway sends it: repeated headers joined with ",". */
function v2Event(method: string, rawPath: string, headers: Record<string, string>, pathParameters?: Record<string, string>) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    headers: { host: 'api.example.com', ...headers },
    ...(pathParameters === undefined ? {} : { pathParameters }),
    requestContext: {
      accountId: '1', apiId: 'a', domainName: 'api.example.com', domainPrefix: 'api', requestId: 'r', routeKey: '$default',
      stage: '$default', time: '', timeEpoch: 0,
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
    },
    isBase64Encoded: false,
  };
}

/** A REST API (payload 1.0) event: every value of a repeated header in `multiValueHeaders`. */
function v1Event(method: string, path: string, multiValueHeaders: Record<string, string[]>) {
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(multiValueHeaders)) headers[name] = values.at(-1) ?? '';
  return {
    httpMethod: method, path, resource: '/{proxy+}', headers: { host: 'api.example.com', ...headers },
    multiValueHeaders: { host: ['api.example.com'], ...multiValueHeaders }, queryStringParameters: null,
    multiValueQueryStringParameters: null, pathParameters: null, stageVariables: null, body: null, isBase64Encoded: false,
    requestContext: { accountId: '1', apiId: 'a', httpMethod: method, path, stage: 'prod', requestId: 'r', resourcePath: '/{proxy+}', identity: { sourceIp: '127.0.0.1' } },
  };
}

async function invoke(handler: LambdaHandler, event: unknown): Promise<{ status: number; body: unknown }> {
  const result = (await handler(event as Parameters<LambdaHandler>[0], { awsRequestId: 'req-1' } as Parameters<LambdaHandler>[1])) as LambdaResult;
  return { status: result.statusCode, body: JSON.parse(result.body) };
}

describe('paths that mean another path', () => {
  it('refuses ".." segments, encoded dots and encoded slashes with 400 in the envelope, and deletes nothing', async () => {
    const { app, commands } = appWith();
    const handler = handle(app);
    const cases: [string, Record<string, string> | undefined][] = [
      // serverless offline resolves the path in rawPath and keeps it as sent in pathParameters.
      ['/api/sessions/X', { default: 'api/sessions/zzz/../X' }],
      ['/api/sessions/zzz/../X', undefined],
      ['/api/sessions/zzz/%2e%2e/X', undefined],
      ['/api/sessions/zzz%2F..%2FX', undefined],
      ['/api/sessions/./X', undefined],
      ['/api/sessions/X%2f', undefined],
    ];
    for (const [rawPath, pathParameters] of cases) {
      const answer = await invoke(handler, v2Event('DELETE', rawPath, { 'x-api-key': key }, pathParameters));
      expect(answer.status, rawPath).toBe(400);
      expect(answer.body).toMatchObject({ error: { code: 'VALIDATION_FAILED', message: expect.stringContaining('".."'), details: { fields: [{ path: expect.any(String) }] } } });
    }
    expect(commands).toEqual([]);
    // Without a key, still 401 first.
    expect((await invoke(handler, v2Event('DELETE', '/api/sessions/zzz/../X', {}))).status).toBe(401);
  });
});

describe('one API key per request', () => {
  it('refuses a repeated x-api-key header even when one of its values is right', async () => {
    const handler = handle(appWith().app);
    for (const value of [`wrong,${key}`, `${key},wrong`, `${key},${key}`]) {
      const answer = await invoke(handler, v2Event('GET', '/api/sessions', { 'x-api-key': value }));
      expect(answer.status, value).toBe(401);
      expect(answer.body).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    }
    for (const values of [['wrong', key], [key, 'wrong']]) {
      expect((await invoke(handler, v1Event('GET', '/api/sessions', { 'x-api-key': values }))).status).toBe(401);
    }
    expect((await invoke(handler, v1Event('GET', '/api/sessions', { 'x-api-key': [key] }))).status).toBe(200);
    expect((await invoke(handler, v2Event('GET', '/api/sessions', { 'x-api-key': key }))).status).toBe(200);
  });

  it('refuses repeated headers in-process too (Headers joins them with ", ")', async () => {
    const { app } = appWith();
    const headers = new Headers();
    headers.append('x-api-key', 'wrong');
    headers.append('x-api-key', key);
    expect((await app.request('/api/sessions', { headers })).status).toBe(401);
    expect(isSingleKey(key, [key, key])).toBe(true);
    expect(isSingleKey(key, ['other', key])).toBe(false);
  });
});

describe('empty Idempotency-Key', () => {
  it('is refused with 400 on header.idempotency-key, also when the Lambda adapter would drop it', async () => {
    const handler = handle(appWith().app);
    const answer = await invoke(handler, v2Event('POST', '/api/sessions', { 'x-api-key': key, 'idempotency-key': '' }));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'VALIDATION_FAILED', details: { fields: [{ path: 'header.idempotency-key' }] } } });
    const { app } = appWith();
    const inProcess = await app.request('/api/sessions', { method: 'POST', headers: { 'x-api-key': key, 'idempotency-key': '' } });
    expect(inProcess.status).toBe(400);
    expect(await inProcess.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED', details: { fields: [{ path: 'header.idempotency-key' }] } } });
  });
});

describe('Redis out of memory', () => {
  it('answers 503 SERVICE_UNAVAILABLE, not 500', async () => {
    const oom = new Error("OOM command not allowed when used memory > 'maxmemory'.");
    expect(isRedisUnavailableError(oom)).toBe(true);
    expect(isRedisUnavailableError(new Error('ERR wrong number of arguments'))).toBe(false);
    const { app } = appWith({
      directory: {
        get: async () => {
          throw oom;
        },
        page: async () => ({ entries: [], next: null }),
        placeSession: async () => 'h1',
      },
    });
    const response = await app.request('/api/sessions/X', { headers: { 'x-api-key': key } });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'SERVICE_UNAVAILABLE' } });
  });
});

describe('resume ids', () => {
  it('refuses the greatest stream id (Redis cannot start a range after it) and ids past 64 bits', () => {
    const max = '18446744073709551615-18446744073709551615';
    expect(isStreamId(max)).toBe(false);
    expect(isStreamId('18446744073709551616-0')).toBe(false);
    expect(isStreamId('18446744073709551615-18446744073709551614')).toBe(true);
    expect(isStreamId('1700000000000-0')).toBe(true);
    const parsed = clientActionSchema.safeParse({ action: 'resume', sessionId: 'alice', after: max });
    expect(parsed.success).toBe(false);
  });
});

describe('logs', () => {
  it('log the route of a request, not its path: no phone number', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const { app } = appWith({ logger: pino({ level: 'info' }, sink) });
    await app.request('/api/messages/X/chat/15550100002', { headers: { 'x-api-key': key } });
    await app.request('/api/nothing/15550100002', { headers: { 'x-api-key': key } });
    const text = lines.join('');
    expect(text).toContain('/api/messages/{sessionId}/chat/{chatId}');
    expect(text).not.toContain('15550100002');
    expect(maskPath('/api/x/15550100002')).toBe('/api/x/###########');
  });

  it('never log the arguments of a failed Redis command', () => {
    const error = Object.assign(new Error('OOM command not allowed'), {
      command: { name: 'set', args: ['wa:idem:k', '{"text":"secret message to 15550100002"}'] },
    });
    const wrapped = new Error('request failed', { cause: error });
    const text = JSON.stringify([serializeError(error), serializeError(wrapped)]);
    expect(text).not.toContain('secret message');
    expect(text).not.toContain('15550100002');
    expect(text).toContain('OOM command not allowed');
    expect(text).toContain('"redisCommand":"set"');
  });
});
