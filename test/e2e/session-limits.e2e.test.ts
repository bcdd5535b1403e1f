/**
 * Sessions that nobody scans stop rotating their QR after QR_MAX_ROTATIONS (failed, QR_TIMEOUT; a restart starts
 * again), and `GET /api/sessions` pages with `limit` and `cursor`. Through serverless offline and a real host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../contract/api.js';
import { sessionBecomes } from '../support/http-client.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ hostEnv: { SIMULATOR_QR_ROTATE_MS: '150', QR_MAX_ROTATIONS: '3' } });
});

afterAll(async () => {
  await stack?.stop();
});

interface SessionsPage {
  sessions: Session[];
  nextCursor: string | null;
}

describe('session limits', () => {
  it('gives up on a QR nobody scans: failed with QR_TIMEOUT, and a restart shows a QR again', async () => {
    const created = await stack.api.request('POST', '/api/sessions', { body: { sessionId: 'unscanned' } });
    expect(created.status).toBe(201);
    const failed = await sessionBecomes(stack.api, 'unscanned', 'failed');
    expect(failed.lastError).toMatchObject({ code: 'QR_TIMEOUT' });
    const qr = await stack.api.request<{ error: { code: string } }>('GET', '/api/sessions/unscanned/qr');
    expect(qr.status).toBe(409);
    // It stays failed: no more rotations once given up. A witness going through all its rotations shows that
    // enough time passed for several more.
    expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId: 'witness' } })).status).toBe(201);
    await sessionBecomes(stack.api, 'witness', 'failed');
    expect((await sessionBecomes(stack.api, 'unscanned', 'failed')).updatedAt).toBe(failed.updatedAt);

    expect((await stack.api.request('POST', '/api/sessions/unscanned/restart')).status).toBe(202);
    await sessionBecomes(stack.api, 'unscanned', 'qr');
    const scanned = await stack.api.request('POST', '/api/simulator/sessions/unscanned/scan', { body: {} });
    // The restarted session may give up again before the scan lands on a loaded machine; either answer is honest.
    expect([202, 409]).toContain(scanned.status);
  });

  it('pages the session list with limit and cursor, oldest first, each session once', async () => {
    const ids = Array.from({ length: 7 }, (_, index) => `page-${index}`);
    for (const sessionId of ids) expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId } })).status).toBe(201);
    const everything = await stack.api.request<SessionsPage>('GET', '/api/sessions?limit=500');
    const all = everything.body.sessions.map((session) => session.id);
    expect(everything.body.nextCursor).toBeNull();
    expect(all.filter((id) => id.startsWith('page-'))).toEqual(ids);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? 'limit=3' : `limit=3&cursor=${encodeURIComponent(cursor)}`;
      const page = await stack.api.request<SessionsPage>('GET', `/api/sessions?${query}`);
      expect(page.status).toBe(200);
      expect(page.body.sessions.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.sessions.map((session) => session.id));
      cursor = page.body.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < 20);
    expect(seen).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 3));

    for (const query of ['limit=0', 'limit=501', 'cursor=%21%21', 'cursor=bm9wZQ', 'other=1']) {
      const response = await stack.api.request<{ error: { code: string } }>('GET', `/api/sessions?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    }
  });
});
