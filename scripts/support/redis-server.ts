/** A `redis-server` of our own on a free loopback port: what the local stack and the tests run against. */
import { Redis } from 'ioredis';
import { freePort, startProcess, temporaryDirectory, waitFor, type ManagedProcess } from './processes.js';

export interface LocalRedis {
  url: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  port?: number;
  inheritOutput?: boolean;
  /** Keep the data in this directory (append-only file), so that sessions survive a restart of the stack. */
  persistIn?: string;
  /** fsync the append-only file at every write (tests of a Redis restart), not every second. */
  fsyncAlways?: boolean;
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<LocalRedis> {
  const port = options.port ?? (await freePort());
  const directory =
    options.persistIn === undefined ? temporaryDirectory('wa-redis') : { path: options.persistIn, remove: () => undefined };
  const persistence =
    options.persistIn === undefined
      ? ['--save', '', '--appendonly', 'no']
      : ['--save', '', '--appendonly', 'yes', '--appendfsync', options.fsyncAlways === true ? 'always' : 'everysec'];
  const process = startProcess({
    name: `redis-server:${port}`,
    command: 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', ...persistence, '--dir', directory.path],
    inheritOutput: options.inheritOutput ?? false,
  });
  const url = `redis://127.0.0.1:${port}`;
  try {
    await waitFor(
      `redis-server on port ${port}`,
      async () => {
        const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        client.on('error', () => undefined);
        try {
          await client.connect();
          return (await client.ping()) === 'PONG' ? true : undefined;
        } finally {
          client.disconnect();
        }
      },
      10_000,
    );
  } catch (error) {
    await process.stop(1_000);
    directory.remove();
    throw error;
  }
  return {
    url,
    port,
    process,
    async stop() {
      await process.stop(2_000);
      directory.remove();
    },
  };
}
