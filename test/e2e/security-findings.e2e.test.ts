/**
 * Issue 15's findings through the public API of a real local stack (serverless offline, a session host, Redis):
 * a path with ".." does not reach another session, an empty Idempotency-Key is refused, lenient chat ids are
 * refused, and neither the functions' nor the host's log lines carry a phone number or a message text.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../contract/api.js';
import { eventually, sessionBecomes } from '../support/http-client.js';
import { connectWebSocket, HandshakeRefused } from '../support/ws-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

/** A request sent byte for byte as written (fetch would resolve "..", as browsers and proxies may not). */
function rawRequest(method: string, path: string, headers: [string, string][]): Promise<{ status: number; body: unknown }> {
  const url = new URL(stack.offline.httpUrl);
  const lines: string[] = [['host', url.host], ...headers].flat();
  return new Promise((resolve, reject) => {
    const request = http.request({ host: url.hostname, port: url.port, method, path, headers: lines }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text === '' ? null : JSON.parse(text) }));
    });
    request.on('error', reject);
    request.end();
  });
}

const alicePhone = '15550100071';
const bobPhone = '15550100072';
const outsidePhone = '15550100073';
const sentText = 'confidential-send-7c1e';
const incomingText = 'confidential-incoming-9b2d';

describe('security findings through serverless offline', () => {
  it('DELETE /api/sessions/zzz%2F..%2FX does not delete X', async () => {
    expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId: 'X' } })).status).toBe(201);
    // serverless offline resolves a literal ".." (and "%2e%2e") before the function sees the request: the function
    // is then asked about X itself (docs/api.md, "Security"; the Lambda forms are covered by
    // test/unit/request-hardening.test.ts). The encoded slash reaches it as sent and is refused.
    for (const path of ['/api/sessions/zzz%2F..%2FX', '/api/sessions/zzz%2f..%2fX', '/api/sessions/zzz%2F%2E%2E%2FX']) {
      const answer = await rawRequest('DELETE', path, [['x-api-key', stack.apiKey]]);
      expect(answer.status, path).toBe(400);
      expect(answer.body).toMatchObject({ error: { code: 'VALIDATION_FAILED', details: { fields: [{ path: 'sessionId' }] } } });
    }
    expect((await stack.api.request('GET', '/api/sessions/X')).status).toBe(200);
    // Without a key: 401 first, as for every route.
    expect((await rawRequest('DELETE', '/api/sessions/zzz%2F..%2FX', [])).status).toBe(401);
  });

  it('refuses an x-api-key header that holds two keys', async () => {
    const answer = await rawRequest('GET', '/api/sessions', [['x-api-key', `wrong,${stack.apiKey}`]]);
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
  });

  it('refuses a WebSocket $connect with two keys, whichever comes last', async () => {
    const key = stack.apiKey;
    const cases: [string, Record<string, string>][] = [
      [`apiKey=wrong&apiKey=${key}`, {}],
      [`apiKey=${key}&apiKey=wrong`, {}],
      [`apiKey=wrong`, { 'x-api-key': key }],
      ['', { 'x-api-key': `wrong,${key}` }],
    ];
    for (const [query, headers] of cases) {
      const refused = await connectWebSocket(`${stack.offline.websocketUrl}/?${query}`, headers).then(
        async (socket) => {
          await socket.close();
          return undefined;
        },
        (error: unknown) => error,
      );
      expect(refused, `${query} ${JSON.stringify(headers)}`).toBeInstanceOf(HandshakeRefused);
      expect((refused as HandshakeRefused).statusCode).toBe(401);
    }
    const accepted = await connectWebSocket(`${stack.offline.websocketUrl}/?apiKey=${key}`, { 'x-api-key': key });
    await accepted.close();
  });

  it('refuses an empty Idempotency-Key with 400 on header.idempotency-key', async () => {
    const answer = await rawRequest('POST', '/api/sessions', [['x-api-key', stack.apiKey], ['idempotency-key', '']]);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'VALIDATION_FAILED', details: { fields: [{ path: 'header.idempotency-key' }] } } });
  });

  it('sends and receives without a phone number or a text in any log line; lenient chat ids are refused', async () => {
    for (const id of ['alice', 'bob']) expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId: id } })).status).toBe(201);
    await sessionBecomes(stack.api, 'alice', 'qr');
    await sessionBecomes(stack.api, 'bob', 'qr');
    expect((await stack.api.request('POST', '/api/simulator/sessions/alice/scan', { body: { phone: alicePhone } })).status).toBe(202);
    expect((await stack.api.request('POST', '/api/simulator/sessions/bob/scan', { body: { phone: bobPhone } })).status).toBe(202);
    await sessionBecomes(stack.api, 'alice', 'connected');
    await sessionBecomes(stack.api, 'bob', 'connected');

    for (const chatId of [`-${bobPhone}`, `../${bobPhone}`]) {
      const refused = await stack.api.request<{ error: { code: string } }>('POST', '/api/messages/alice/send', { body: { chatId, text: 'x' } });
      expect(refused.status, chatId).toBe(400);
      expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    }
    const sent = await stack.api.request('POST', '/api/messages/alice/send', { body: { chatId: bobPhone, text: sentText } });
    expect(sent.status).toBe(201);
    const incoming = await stack.api.request('POST', '/api/simulator/sessions/alice/incoming', { body: { from: outsidePhone, text: incomingText } });
    expect(incoming.status).toBe(202);
    // Reading a chat by number puts the number in the path.
    await eventually('the incoming message in alice\'s chat', async () => {
      const history = await stack.api.request<{ messages: { body: string }[] }>('GET', `/api/messages/alice/chat/${outsidePhone}`);
      return history.body.messages?.some((message) => message.body === incomingText) ? true : undefined;
    });
    await eventually('bob received the send', async () => {
      const chats = await stack.api.request<{ chats: { lastMessage: { body: string } | null }[] }>('GET', '/api/messages/bob/chats');
      return chats.body.chats?.some((chat) => chat.lastMessage?.body === sentText) ? true : undefined;
    });
    // Our own lines are JSON. serverless offline prints each request's path itself ("ANY /api/messages/…"): that is
    // the local twin's line, which no deployed stage has (docs/api.md, "Security").
    const ownLines = (output: string) => output.split('\n').filter((line) => line.trimStart().startsWith('{'));
    const logs = [...ownLines(stack.offline.process.output()), ...stack.hosts.flatMap((host) => ownLines(host.output()))].join('\n');
    expect(logs).toContain('"msg":"request"');
    for (const secret of [alicePhone, bobPhone, outsidePhone, sentText, incomingText]) {
      const line = logs.split('\n').find((candidate) => candidate.includes(secret));
      expect(line, `a log line holds ${secret}`).toBeUndefined();
    }
    const sessions = await stack.api.request<{ sessions: Session[] }>('GET', '/api/sessions');
    expect(sessions.status).toBe(200);
  });
});
