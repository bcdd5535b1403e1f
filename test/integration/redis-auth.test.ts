/**
 * Issue 15: Redis as a guarded boundary. A redis-server with an ACL user (and one with requirepass) serves a client
 * that has the URL's credentials; without them the client is told at once (RedisAuthError), never with the
 * password. The local Redis keeps its files private: directory 0700, files 0600.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createRedis, redactRedisUrl, RedisAuthError, whenRedisReady, type Redis } from '../../lib/redis.js';
import { temporaryDirectory } from '../../scripts/support/processes.js';
import { startRedisServer, type LocalRedis } from '../../scripts/support/redis-server.js';

const servers: LocalRedis[] = [];
const clients: Redis[] = [];
const directory = temporaryDirectory('wa-redis-auth');
afterAll(async () => {
  for (const client of clients) client.disconnect();
  for (const server of servers) await server.stop();
  directory.remove();
});

function client(url: string): Redis {
  const redis = createRedis(url, { name: 'auth-test', queueWhileOffline: false });
  clients.push(redis);
  return redis;
}

function filesUnder(root: string): string[] {
  return readdirSync(root, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(root, entry.name);
    return entry.isDirectory() ? [full, ...filesUnder(full)] : [full];
  });
}

describe('Redis with credentials', () => {
  it('an ACL user: works with the URL\'s credentials, refused at once without them, and its files are private', async () => {
    const persistIn = path.join(directory.path, 'acl');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(persistIn, { mode: 0o755 });
    const server = await startRedisServer({ persistIn, user: { name: 'wa-service', password: 'p@ss/word:42' } });
    servers.push(server);
    expect(server.url).toBe(`redis://wa-service:p%40ss%2Fword%3A42@127.0.0.1:${server.port}`);
    const good = client(server.url);
    await whenRedisReady(good, 2_000);
    await good.set('greeting', 'a message body');
    await good.bgrewriteaof();
    await vi.waitFor(async () => expect(await good.info('persistence')).toMatch(/aof_rewrite_in_progress:0/), { timeout: 5_000 });

    const stderr = vi.spyOn(process.stderr, 'write');
    for (const url of [`redis://127.0.0.1:${server.port}`, `redis://wa-service:wrong@127.0.0.1:${server.port}`]) {
      const started = Date.now();
      const refused = whenRedisReady(client(url), 5_000);
      await expect(refused).rejects.toBeInstanceOf(RedisAuthError);
      await expect(refused).rejects.toThrow(/Redis refused this service's credentials .*REDIS_URL/);
      expect(Date.now() - started).toBeLessThan(2_000);
    }
    const written = stderr.mock.calls.map((call) => String(call[0])).join('');
    stderr.mockRestore();
    expect(written).toContain('Redis refused');
    expect(written).not.toContain('wrong');
    expect(redactRedisUrl(server.url)).toBe(`redis://127.0.0.1:${server.port}`);

    expect(statSync(persistIn).mode & 0o777).toBe(0o700);
    const files = filesUnder(persistIn);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const stat = statSync(file);
      expect(stat.mode & 0o777, file).toBe(stat.isDirectory() ? 0o700 : 0o600);
    }
  });

  it('requirepass: redis://:password@host:port', async () => {
    const server = await startRedisServer({ password: 'only-a-password' });
    servers.push(server);
    const good = client(server.url);
    await whenRedisReady(good, 2_000);
    expect(await good.ping()).toBe('PONG');
    await expect(whenRedisReady(client(`redis://127.0.0.1:${server.port}`), 5_000)).rejects.toBeInstanceOf(RedisAuthError);
  });
});
