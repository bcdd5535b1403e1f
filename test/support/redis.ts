/** A redis-server of the test file's own, and a fresh key prefix per test so that tests never see each other's keys. */
import { randomBytes } from 'node:crypto';
import { chmodSync } from 'node:fs';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { redisKeys, type RedisKeys } from '../../contract/redis-keys.js';
import { abortIfExited, freePort, startProcess, temporaryDirectory, waitFor, type ManagedProcess } from '../../scripts/support/processes.js';
import { startRedisServer, type LocalRedis } from '../../scripts/support/redis-server.js';

export interface RedisFixture {
  server(): LocalRedis;
  /** A new client (closed after the file's tests) and a fresh key prefix. */
  client(): Redis;
  keys(): RedisKeys;
  /** The REDIS_URL of what the file runs against (a cluster's with `?cluster=true`). */
  url(): string;
}

/**
 * Whether the Redis-touching tests run against a 3-node Redis Cluster instead of one redis-server: set by the files
 * of test/cluster that run an integration file again on a cluster (runOnCluster), or by TEST_REDIS_CLUSTER=1.
 */
export function onCluster(): boolean {
  return process.env.TEST_REDIS_CLUSTER === '1';
}

/**
 * Loads a test file (its suites register as it loads) with onCluster() true, so that its fixture is a cluster: what
 * test/cluster/*.on-cluster.test.ts do to run an integration file again against a Redis Cluster.
 */
export async function runOnCluster(load: () => Promise<unknown>): Promise<void> {
  const before = process.env.TEST_REDIS_CLUSTER;
  process.env.TEST_REDIS_CLUSTER = '1';
  try {
    await load();
  } finally {
    if (before === undefined) delete process.env.TEST_REDIS_CLUSTER;
    else process.env.TEST_REDIS_CLUSTER = before;
  }
}

export function useRedisServer(): RedisFixture {
  if (onCluster()) return useClusterFixture();
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
    url: () => {
      if (server === undefined) throw new Error('redis-server not started');
      return server.url;
    },
  };
}

/**
 * The fixture on a cluster: `client()` is a Cluster client, typed as the service's code takes it (lib/redis.ts
 * accepts both); `server()` has no single server to give.
 */
function useClusterFixture(): RedisFixture {
  const cluster = useRedisCluster();
  return {
    server: () => {
      throw new Error('this test runs on a Redis Cluster: there is no single redis-server');
    },
    client: () => cluster().client() as unknown as Redis,
    keys: () => redisKeys(`t${randomBytes(5).toString('hex')}`),
    url: () => cluster().url,
  };
}

/** A logger that writes nothing, for parts under test that take one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A Redis Cluster of three masters (no replicas) on loopback, started for one test file. */
export interface LocalRedisCluster {
  /** The service's REDIS_URL for it: the first node as the seed, `?cluster=true`. */
  url: string;
  ports: number[];
  /** A Cluster client (closed by `stop`). */
  client(): Cluster;
  stop(): Promise<void>;
}

/**
 * Starts three `redis-server --cluster-enabled yes` on free loopback ports (their cluster bus ports too), joins them
 * with `redis-cli --cluster create` (16384 slots over three masters), and waits for `cluster_state:ok` on every node.
 * Each process is stopped by its PID, and the temporary directory removed, by `stop` (also on a failed start).
 */
export async function startRedisCluster(options: { password?: string } = {}): Promise<LocalRedisCluster> {
  const auth = options.password === undefined ? [] : ['--requirepass', options.password, '--masterauth', options.password];
  const cliAuth = options.password === undefined ? [] : ['--no-auth-warning', '-a', options.password];
  const directory = temporaryDirectory('wa-redis-cluster');
  chmodSync(directory.path, 0o700);
  const processes: ManagedProcess[] = [];
  const clients: Cluster[] = [];
  const stop = async () => {
    for (const client of clients) client.disconnect();
    await Promise.all(processes.map((process) => process.stop(2_000)));
    directory.remove();
  };
  try {
    const ports: number[] = [];
    const busPorts: number[] = [];
    while (ports.length < 3) {
      const port = await freePort();
      const busPort = await freePort();
      if (port === busPort || ports.includes(port) || busPorts.includes(port) || ports.includes(busPort) || busPorts.includes(busPort)) continue;
      ports.push(port);
      busPorts.push(busPort);
    }
    ports.forEach((port, index) => {
      processes.push(
        startProcess({
          name: `redis-cluster:${port}`,
          command: 'redis-server',
          args: [
            '--port', String(port), '--cluster-port', String(busPorts[index]), '--cluster-enabled', 'yes',
            '--cluster-config-file', path.join(directory.path, `nodes-${port}.conf`), '--cluster-node-timeout', '5000',
            '--dir', directory.path, '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', ...auth,
          ],
        }),
      );
    });
    for (const [index, port] of ports.entries()) {
      await waitFor(`redis-server (cluster) on port ${port}`, async () => {
        abortIfExited(processes[index]!, `before it answered on port ${port}`);
        return (await cli(port, [...cliAuth, 'PING'])).trim() === 'PONG' ? true : undefined;
      }, 10_000);
    }
    const create = await run('redis-cli', [...cliAuth, '--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes']);
    if (create.code !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.output}`);
    for (const port of ports) {
      await waitFor(`cluster_state:ok on port ${port}`, async () => ((await cli(port, [...cliAuth, 'CLUSTER', 'INFO'])).includes('cluster_state:ok') ? true : undefined), 20_000);
    }
    return {
      url: `redis://${options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`}127.0.0.1:${ports[0]}?cluster=true`,
      ports,
      client: () => {
        const client = new Cluster(
          ports.map((port) => ({ host: '127.0.0.1', port })),
          options.password === undefined ? {} : { redisOptions: { password: options.password } },
        );
        clients.push(client);
        return client;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The cluster of the test file, started before its tests and stopped after them. */
export function useRedisCluster(options: { password?: string } = {}): () => LocalRedisCluster {
  let cluster: LocalRedisCluster | undefined;
  beforeAll(async () => {
    cluster = await startRedisCluster(options);
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  return () => {
    if (cluster === undefined) throw new Error('redis cluster not started');
    return cluster;
  };
}

async function cli(port: number, args: string[]): Promise<string> {
  return (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).output;
}

/** Runs a short command to its end (at most 30 s), with what it printed. */
async function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const child = startProcess({ name: command, command, args });
  const timer = setTimeout(() => void child.kill(), 30_000);
  try {
    const { code } = await child.exited;
    return { code, output: child.output() };
  } finally {
    clearTimeout(timer);
  }
}
