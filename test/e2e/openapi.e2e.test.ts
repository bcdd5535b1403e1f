/**
 * The OpenAPI document and its page through the real stack (serverless offline → Lambda handler), and the typed
 * client driving a whole exchange on the simulator: everything the document promises, answered as declared.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionBecomes } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { typedApi, type TypedApi } from '../support/typed-api.js';

let stack: TestStack;
let api: TypedApi;

beforeAll(async () => {
  stack = await startTestStack();
  api = typedApi(stack.api);
});

afterAll(async () => {
  await stack?.stop();
});

describe('OpenAPI end to end', () => {
  it('serves a valid OpenAPI 3.1 document without a key, with every route of the simulator stack', async () => {
    const response = await api.call('openApiDocument', { apiKey: null });
    expect(response.status).toBe(200);
    if (response.status !== 200) return;
    const document = response.body as { openapi: string; paths: Record<string, object> };
    expect(document.openapi).toMatch(/^3\.1\./);
    expect(await new Validator().validate(response.body)).toMatchObject({ valid: true });
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/api/sessions',
        '/api/sessions/{sessionId}/pairing-code',
        '/api/messages/{sessionId}/contacts/{contactId}',
        '/api/simulator/sessions/{sessionId}/pair',
      ]),
    );
  });

  it('serves the docs page and its assets without a key, and nothing from elsewhere', async () => {
    const page = await stack.api.request('GET', '/api/docs', { apiKey: null });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).not.toMatch(/https?:\/\//);
    const script = await stack.api.request('GET', '/api/docs/swagger-ui-bundle.js', { apiKey: null });
    expect(script.status).toBe(200);
    expect(script.text.length).toBeGreaterThan(1_000_000);
    expect(script.text).toContain('SwaggerUIBundle');
    const style = await stack.api.request('GET', '/api/docs/swagger-ui.css', { apiKey: null });
    expect(style.status).toBe(200);
    expect(style.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it('still answers 401 first to everything else', async () => {
    for (const path of ['/api/sessions', '/api/openapi.json/x', '/api/docs/other.js', '/nope']) {
      expect((await stack.api.request('GET', path, { apiKey: null })).status, path).toBe(401);
    }
    expect((await stack.api.request('POST', '/api/openapi.json', { apiKey: null, body: {} })).status).toBe(401);
    expect((await stack.api.request('POST', '/api/openapi.json', { body: {} })).status).toBe(405);
  });

  it('drives a whole exchange through the typed client, each answer as declared', async () => {
    for (const sessionId of ['oa-alice', 'oa-bob']) {
      const created = await api.call('createSession', { body: { sessionId } });
      expect(created.status).toBe(201);
      if (created.status === 201) expect(created.body.session.id).toBe(sessionId);
      await sessionBecomes(stack.api, sessionId, 'qr');
    }
    const qr = await api.call('getQr', { params: { sessionId: 'oa-alice' } });
    expect(qr.status).toBe(200);
    const scans = [
      await api.call('simulatorScan', { params: { sessionId: 'oa-alice' }, body: { phone: '15550200001' } }),
      await api.call('simulatorScan', { params: { sessionId: 'oa-bob' }, body: { phone: '15550200002' } }),
    ];
    expect(scans.map((scan) => scan.status)).toEqual([202, 202]);
    await sessionBecomes(stack.api, 'oa-alice', 'connected');
    await sessionBecomes(stack.api, 'oa-bob', 'connected');

    const sent = await api.call('sendMessage', {
      params: { sessionId: 'oa-alice' },
      headers: { 'idempotency-key': 'oa-1' },
      body: { chatId: '+1 555 020 0002', text: 'typed hello' },
    });
    expect(sent.status).toBe(201);
    if (sent.status !== 201) return;
    expect(sent.body.message).toMatchObject({ chatId: '15550200002@c.us', body: 'typed hello', fromMe: true });

    const history = await api.call('getChatMessages', { params: { sessionId: 'oa-alice', chatId: '15550200002' }, query: { limit: '5' } });
    expect(history.status).toBe(200);
    if (history.status === 200) expect(history.body.messages.map((message) => message.body)).toContain('typed hello');
    const chats = await api.call('listChats', { params: { sessionId: 'oa-alice' } });
    expect(chats.status).toBe(200);
    const contact = await api.call('getContact', { params: { sessionId: 'oa-alice', contactId: '15550200002' } });
    expect(contact.status).toBe(200);

    const notConnected = await api.call('listContacts', { params: { sessionId: 'nobody' } });
    expect(notConnected.status).toBe(404);
    if (notConnected.status === 404) expect(notConnected.body.error.code).toBe('SESSION_NOT_FOUND');

    const deleted = await api.call('deleteSession', { params: { sessionId: 'oa-bob' } });
    expect(deleted.status).toBe(200);
  });
});
