/** Issue 15: the host's /health tells anyone only ok/unhealthy; details need HEALTH_DETAILS=true or HEALTH_TOKEN. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { healthAccessOf, type HealthAccess } from '../../session-host/config.js';
import { startHealthServer } from '../../session-host/health-server.js';
import { EnvReader } from '../../lib/env.js';

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function serve(access: HealthAccess, problem: string | null = null) {
  const server = await startHealthServer(
    0,
    '127.0.0.1',
    { problem: () => problem, details: () => ({ hostId: 'host-secret-1', engine: 'webjs', sessions: 7 }) },
    { contentType: 'text/plain', render: async () => 'wa_sessions 7\n' },
    access,
  );
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return (path: string, headers: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${port}${path}`, { headers }).then(async (response) => ({ status: response.status, text: await response.text() }));
}

const token = 'a-health-token-of-32-characters!';

describe('host health endpoint', () => {
  it('says only the status to anyone', async () => {
    const get = await serve({ details: false, token });
    expect(await get('/health')).toEqual({ status: 200, text: '{"status":"ok"}' });
    expect(await get('/health', { 'x-health-token': 'wrong' })).toEqual({ status: 200, text: '{"status":"ok"}' });
    expect((await get('/metrics')).status).toBe(401);
    const failing = await serve({ details: false, token: undefined }, 'Redis does not answer at 10.0.0.5');
    expect(await failing('/health')).toEqual({ status: 503, text: '{"status":"unhealthy"}' });
    // Without a token configured, /metrics stays as it was (for a private port).
    expect((await failing('/metrics')).status).toBe(200);
  });

  it('gives the details with the token or HEALTH_DETAILS=true', async () => {
    const get = await serve({ details: false, token });
    const withToken = await get('/health', { 'x-health-token': token });
    expect(JSON.parse(withToken.text)).toEqual({ status: 'ok', problem: null, hostId: 'host-secret-1', engine: 'webjs', sessions: 7 });
    expect(await get('/metrics', { 'x-health-token': token })).toEqual({ status: 200, text: 'wa_sessions 7\n' });
    const open = await serve({ details: true, token: undefined });
    expect(JSON.parse((await open('/health')).text)).toMatchObject({ hostId: 'host-secret-1' });
  });

  it('reads HEALTH_DETAILS and HEALTH_TOKEN, refusing a short token', () => {
    expect(healthAccessOf(new EnvReader({}))).toEqual({ details: false, token: undefined });
    expect(healthAccessOf(new EnvReader({ HEALTH_DETAILS: 'true', HEALTH_TOKEN: token }))).toEqual({ details: true, token });
    const reader = new EnvReader({ HEALTH_TOKEN: 'short' });
    healthAccessOf(reader);
    expect(() => reader.done()).toThrow(/HEALTH_TOKEN/);
  });
});
