/** The whole stack for an end-to-end test: its own Redis, serverless offline and session host(s), stopped after. */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ManagedProcess } from '../../scripts/support/processes.js';
import { temporaryDirectory } from '../../scripts/support/processes.js';
import { startRedisServer, type LocalRedis } from '../../scripts/support/redis-server.js';
import { startOffline, startSessionHost, type Offline } from '../../scripts/support/stack.js';
import { apiClient, type ApiClient } from './http-client.js';

export interface TestStack {
  redis: LocalRedis;
  offline: Offline;
  hosts: ManagedProcess[];
  api: ApiClient;
  apiKey: string;
  keyPrefix: string;
  dataDir: string;
  startHost(hostId?: string, env?: Record<string, string>): Promise<ManagedProcess>;
  /** Stops Redis (SIGTERM: its data is on disk) and resolves once it is down; `startRedis` brings it back. */
  stopRedis(): Promise<void>;
  startRedis(): Promise<void>;
  stop(): Promise<void>;
}

export interface TestStackOptions {
  engine?: 'simulator' | 'webjs';
  hostEnv?: Record<string, string>;
  offlineEnv?: Record<string, string>;
  /** Session hosts to start at once. */
  hosts?: number;
  /** Keep Redis's data on disk (fsync'd at each write), so that it can be restarted without losing state. */
  persistentRedis?: boolean;
}

export async function startTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  const engine = options.engine ?? 'simulator';
  const apiKey = `test-${randomBytes(12).toString('hex')}`;
  const keyPrefix = `t${randomBytes(4).toString('hex')}`;
  const data = temporaryDirectory('wa-data');
  const dataDir = path.join(data.path, 'sessions');
  mkdirSync(dataDir, { recursive: true });
  const mediaDir = path.join(data.path, 'media');
  const redisDir = path.join(data.path, 'redis');
  mkdirSync(redisDir, { recursive: true });
  const redisOptions = options.persistentRedis === true ? { persistIn: redisDir, fsyncAlways: true } : {};
  let redis = await startRedisServer(redisOptions);
  const hosts: ManagedProcess[] = [];
  let offline: Offline | undefined;
  const stop = async () => {
    await Promise.all(hosts.map((host) => host.stop(15_000)));
    await offline?.process.stop(5_000);
    await redis.stop();
    data.remove();
  };
  try {
    offline = await startOffline({ redisUrl: redis.url, keyPrefix, engine, apiKeys: apiKey, mediaDir, env: options.offlineEnv });
    const started = offline;
    const startHost = async (hostId = `host-${hosts.length + 1}`, env: Record<string, string> = {}) => {
      const host = await startSessionHost({
        redisUrl: redis.url,
        keyPrefix,
        engine,
        hostId,
        dataDir,
        mediaDir,
        wsManagementEndpoint: started.managementEndpoint,
        env: { HOST_HEARTBEAT_MS: '500', HOST_TTL_MS: '1500', SIMULATOR_READ_AFTER_MS: '200', ...options.hostEnv, ...env },
      });
      hosts.push(host);
      return host;
    };
    for (let index = 0; index < (options.hosts ?? 1); index += 1) await startHost();
    const stack: TestStack = {
      redis,
      offline: started,
      hosts,
      api: apiClient(started.httpUrl, apiKey),
      apiKey,
      keyPrefix,
      dataDir,
      startHost,
      stopRedis: async () => {
        await redis.stop();
      },
      startRedis: async () => {
        redis = await startRedisServer({ ...redisOptions, port: redis.port });
        stack.redis = redis;
      },
      stop,
    };
    return stack;
  } catch (error) {
    await stop();
    throw error;
  }
}
