/**
 * Issue 15: the whole stack against a Redis that asks for an ACL user. With the URL's credentials a session is
 * created and reaches its QR on the simulator; without them the functions answer 503 SERVICE_UNAVAILABLE at once
 * and both sides say that Redis refused their credentials (never printing them), and the session host exits (4)
 * instead of waiting for ever.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManagedProcess } from '../../scripts/support/processes.js';
import { temporaryDirectory } from '../../scripts/support/processes.js';
import { startRedisServer, type LocalRedis } from '../../scripts/support/redis-server.js';
import { startOffline, startSessionHost, type Offline } from '../../scripts/support/stack.js';
import { apiClient, eventually, sessionBecomes } from '../support/http-client.js';

const password = 'e2e-secret-Zq81';
const apiKey = 'redis-auth-e2e-key';
const data = temporaryDirectory('wa-redis-auth-e2e');
let redis: LocalRedis;
const offlines: Offline[] = [];
const hosts: ManagedProcess[] = [];

beforeAll(async () => {
  redis = await startRedisServer({ user: { name: 'wa-service', password } });
}, 30_000);

afterAll(async () => {
  await Promise.all(hosts.map((host) => host.stop(10_000)));
  await Promise.all(offlines.map((offline) => offline.process.stop(5_000)));
  await redis?.stop();
  data.remove();
});

async function stackOn(redisUrl: string, hostId: string): Promise<{ offline: Offline; host: ManagedProcess }> {
  const offline = await startOffline({ redisUrl, keyPrefix: 'auth', engine: 'simulator', apiKeys: apiKey });
  offlines.push(offline);
  const host = await startSessionHost({
    redisUrl,
    keyPrefix: 'auth',
    engine: 'simulator',
    hostId,
    dataDir: data.path,
    wsManagementEndpoint: offline.managementEndpoint,
    env: { HOST_HEARTBEAT_MS: '500', HOST_TTL_MS: '1500' },
  });
  hosts.push(host);
  return { offline, host };
}

describe('Redis with an ACL user, end to end', () => {
  it('works with the credentials in REDIS_URL', async () => {
    const { offline } = await stackOn(redis.url, 'host-auth');
    const api = apiClient(offline.httpUrl, apiKey);
    const created = await api.request('POST', '/api/sessions', { body: { sessionId: 'guarded' } });
    expect(created.status).toBe(201);
    await sessionBecomes(api, 'guarded', 'qr');
  }, 90_000);

  it('without them: 503 from the functions, and a clear line naming Redis from both sides', async () => {
    const noCredentials = `redis://127.0.0.1:${redis.port}`;
    const offline = await startOffline({ redisUrl: noCredentials, keyPrefix: 'auth', engine: 'simulator', apiKeys: apiKey });
    offlines.push(offline);
    const api = apiClient(offline.httpUrl, apiKey);
    const started = Date.now();
    const refused = await api.request<{ error: { code: string } }>('POST', '/api/sessions', { body: { sessionId: 'nope' } });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('SERVICE_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(10_000);
    await eventually('the functions name Redis', async () => (offline.process.output().includes('Redis refused') ? true : undefined));

    // The host does not wait for ever on credentials that cannot work: it says why (naming Redis, never the
    // password) and exits 4 within seconds.
    const hostLines: string[] = [];
    const host = startSessionHost({
      redisUrl: noCredentials,
      keyPrefix: 'auth',
      engine: 'simulator',
      hostId: 'host-no-auth',
      dataDir: data.path,
      wsManagementEndpoint: offline.managementEndpoint,
      readyTimeoutMs: 30_000,
      relay: (line) => hostLines.push(line),
    });
    // Exited, not timed out (startSessionHost would then say it never got ready): the host stops on its own.
    await expect(host).rejects.toThrow(/exited \(4\)/);
    const hostOutput = hostLines.join('\n');
    expect(hostOutput).toContain("Redis refused this service's credentials (NOAUTH)");
    expect(hostOutput).toMatch(/session-host: Redis refused .* Redis: redis:\/\/127\.0\.0\.1:\d+\. Stopping\./);
    for (const text of [offline.process.output(), hostOutput]) expect(text).not.toContain(password);

    // A wrong password (WRONGPASS) stops it the same way.
    const wrongLines: string[] = [];
    const wrong = startSessionHost({
      redisUrl: `redis://wa-service:not-the-password@127.0.0.1:${redis.port}`,
      keyPrefix: 'auth',
      engine: 'simulator',
      hostId: 'host-wrong-auth',
      dataDir: data.path,
      wsManagementEndpoint: offline.managementEndpoint,
      readyTimeoutMs: 30_000,
      relay: (line) => wrongLines.push(line),
    });
    await expect(wrong).rejects.toThrow(/exited \(4\)/);
    expect(wrongLines.join('\n')).toContain("Redis refused this service's credentials (WRONGPASS)");
    expect(wrongLines.join('\n')).not.toContain('not-the-password');
  }, 90_000);
});
