/** A `redis-server` of our own on a free loopback port: what the local stack and the tests run against. */
import { chmodSync } from 'node:fs';
import { Redis } from 'ioredis';
import { abortIfExited, freePort, startProcess, temporaryDirectory, waitFor, type ManagedProcess } from './processes.js';

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
  /** Ask clients for this password (`requirepass`): the URL then carries it, `redis://:password@…`. */
  password?: string;
  /** An ACL user of its own (all keys, all commands), the default user off: the URL is `redis://name:password@…`. */
  user?: { name: string; password: string };
  /** Its output line by line (the local stack's log formatting). */
  relay?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<LocalRedis> {
  const port = options.port ?? (await freePort());
  const directory =
    options.persistIn === undefined ? temporaryDirectory('wa-redis') : { path: options.persistIn, remove: () => undefined };
  const persistence =
    options.persistIn === undefined
      ? ['--save', '', '--appendonly', 'no']
      : ['--save', '', '--appendonly', 'yes', '--appendfsync', options.fsyncAlways === true ? 'always' : 'everysec'];
  // Its files hold message bodies: the directory is the owner's only (0700), and what redis-server writes in it is
  // created under umask 077 (0600), whatever the caller's umask.
  chmodSync(directory.path, 0o700);
  const auth = [
    ...(options.password === undefined ? [] : ['--requirepass', options.password]),
    ...(options.user === undefined ? [] : ['--user', options.user.name, 'on', `>${options.user.password}`, '~*', '&*', '+@all', '--user', 'default', 'off']),
  ];
  const redisArgs = ['--port', String(port), '--bind', '127.0.0.1', ...persistence, '--dir', directory.path, ...auth];
  const process = startProcess({
    name: `redis-server:${port}`,
    // exec: the process is redis-server itself (same pid), so that the check below still finds its process_id.
    command: 'sh',
    args: ['-c', 'umask 077 && exec redis-server "$@"', 'redis-server', ...redisArgs],
    inheritOutput: options.inheritOutput ?? false,
    ...(options.relay === undefined ? {} : { relay: options.relay }),
  });
  const credentials =
    options.user !== undefined
      ? `${encodeURIComponent(options.user.name)}:${encodeURIComponent(options.user.password)}@`
      : options.password !== undefined
        ? `:${encodeURIComponent(options.password)}@`
        : '';
  const url = `redis://${credentials}127.0.0.1:${port}`;
  try {
    await waitFor(
      `redis-server on port ${port}`,
      async () => {
        // A redis-server that exits (its port taken, its directory unwritable) has said why: no use waiting on.
        abortIfExited(process, `before it answered on port ${port}`);
        const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        client.on('error', () => undefined);
        try {
          await client.connect();
          // Ours, not another Redis that holds the port (ours then exits, saying so): its process id is ours.
          const info = await client.info('server');
          if (!info.includes(`process_id:${process.pid}\r`)) {
            abortIfExited(process, `: port ${port} is taken by another Redis`);
            return undefined;
          }
          return true;
        } finally {
          client.disconnect();
        }
      },
      10_000,
    );
  } catch (error) {
    await process.stop(1_000);
    directory.remove();
    throw new Error(`redis-server on 127.0.0.1:${port} did not start: ${error instanceof Error ? error.message : String(error)}`);
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
