/**
 * Logs are JSON lines with each key once (a duplicated `engine` or `sessionId` makes a line ambiguous to every log
 * tool), and no message text. Read off a real session host's output after some traffic on the simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionBecomes } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { duplicateKeys } from '../support/log-lines.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ hostEnv: { SIMULATOR_AUTO_SCAN_MS: '100', LOG_LEVEL: 'debug' } });
});

afterAll(async () => {
  await stack?.stop();
});

describe('log lines', () => {
  it('carry each key once, and no message text', async () => {
    for (const sessionId of ['logs-a', 'logs-b']) {
      expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId } })).status).toBe(201);
      await sessionBecomes(stack.api, sessionId, 'connected');
    }
    const secretText = 'a private text that must not reach the logs';
    expect((await stack.api.request('POST', '/api/messages/logs-a/send', { body: { chatId: '4930123456', text: secretText } })).status).toBe(201);
    expect(
      (await stack.api.request('POST', '/api/simulator/sessions/logs-b/incoming', { body: { from: '4930123457', text: secretText } })).status,
    ).toBe(202);
    expect((await stack.api.request('POST', '/api/sessions/logs-a/restart')).status).toBe(202);
    await sessionBecomes(stack.api, 'logs-a', 'connected');

    const lines = (stack.hosts[0]?.output() ?? '').split('\n').filter((line) => line.startsWith('{'));
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      expect(duplicateKeys(line), line).toEqual([]);
      expect(line).not.toContain(secretText);
    }
  });
});
