/** A redis-server of the test file's own, and a fresh key prefix per test so that tests never see each other's keys. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { redisKeys, type RedisKeys } from '../../contract/redis-keys.js';
import { startRedisServer, type LocalRedis } from '../../scripts/support/redis-server.js';

export interface RedisFixture {
  server(): LocalRedis;
  /** A new client (closed after the file's tests) and a fresh key prefix. */
  client(): Redis;
  keys(): RedisKeys;
}

export function useRedisServer(): RedisFixture {
  let server: LocalRedis | undefined;
  const clients: Redis[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await server?.stop();
  });
  return {
    server: () => {
      if (server === undefined) throw new Error('redis-server not started');
      return server;
    },
    client: () => {
      if (server === undefined) throw new Error('redis-server not started');
      const client = new Redis(server.url);
      clients.push(client);
      return client;
    },
    keys: () => redisKeys(`t${randomBytes(5).toString('hex')}`),
  };
}

/** A logger that writes nothing, for parts under test that take one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
