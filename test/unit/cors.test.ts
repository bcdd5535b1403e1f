/** Issue 15: CORS only for the configured origins (CORS_ORIGINS), none by default. */
import { describe, expect, it } from 'vitest';
import { corsOriginsFromEnv } from '../../functions/config.js';
import { corsPolicy } from '../../functions/http/middleware.js';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { ApiEnv } from '../../functions/http/api-env.js';

function appWith(origins: string[]) {
  const app = new OpenAPIHono<ApiEnv>();
  app.use('*', corsPolicy(origins));
  app.get('/api/sessions', (c) => c.json({ sessions: [] }));
  return app;
}

const preflight = (origin: string) => ({
  method: 'OPTIONS',
  headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-api-key' },
});

describe('CORS', () => {
  it('sends no CORS header when no origin is configured', async () => {
    const app = appWith([]);
    const response = await app.request('/api/sessions', { headers: { origin: 'https://evil.example' } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect((await app.request('/api/sessions', preflight('https://evil.example'))).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows the configured origins only, never reflecting another', async () => {
    const app = appWith(['https://app.example.com']);
    const allowed = await app.request('/api/sessions', preflight('https://app.example.com'));
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('x-api-key');
    const other = await app.request('/api/sessions', preflight('https://evil.example'));
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('reads CORS_ORIGINS and refuses what is not an origin', () => {
    expect(corsOriginsFromEnv({})).toEqual([]);
    expect(corsOriginsFromEnv({ CORS_ORIGINS: 'https://a.example, http://localhost:5173' })).toEqual(['https://a.example', 'http://localhost:5173']);
    expect(corsOriginsFromEnv({ CORS_ORIGINS: '*' })).toEqual(['*']);
    expect(() => corsOriginsFromEnv({ CORS_ORIGINS: 'https://a.example/path' })).toThrow(/CORS_ORIGINS/);
    expect(() => corsOriginsFromEnv({ CORS_ORIGINS: 'a.example' })).toThrow(/CORS_ORIGINS/);
  });
});
