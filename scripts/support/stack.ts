/** Starting the service's own processes: session hosts and serverless offline (the local twin of API Gateway). */
import path from 'node:path';
import { freePort, projectRoot, startProcess, waitFor, waitForOutput, type ManagedProcess } from './processes.js';

/** How a session host is started, here and in the Dockerfile's CMD (test/unit/container.test.ts holds them equal). */
export const sessionHostArgs = ['--import', 'tsx', 'session-host/main.ts'];

export interface SessionHostOptions {
  redisUrl: string;
  keyPrefix: string;
  engine: 'webjs' | 'simulator';
  hostId: string;
  dataDir: string;
  wsManagementEndpoint: string;
  env?: Record<string, string | undefined>;
  inheritOutput?: boolean;
  /** Reload when the code changes (`npm run dev`). */
  watch?: boolean;
}

export async function startSessionHost(options: SessionHostOptions): Promise<ManagedProcess> {
  const host = startProcess({
    name: `session-host:${options.hostId}`,
    command: process.execPath,
    args: [...(options.watch === true ? ['--watch-path=session-host', '--watch-path=lib', '--watch-path=contract'] : []), ...sessionHostArgs],
    env: {
      REDIS_URL: options.redisUrl,
      KEY_PREFIX: options.keyPrefix,
      WA_ENGINE: options.engine,
      HOST_ID: options.hostId,
      DATA_DIR: options.dataDir,
      WS_MANAGEMENT_ENDPOINT: options.wsManagementEndpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...options.env,
    },
    inheritOutput: options.inheritOutput ?? false,
  });
  try {
    await waitForOutput(host, /session host ready/, 60_000);
  } catch (error) {
    await host.stop(2_000);
    throw error;
  }
  return host;
}

export interface OfflineOptions {
  redisUrl: string;
  keyPrefix: string;
  engine: 'webjs' | 'simulator';
  apiKeys: string;
  httpPort?: number;
  websocketPort?: number;
  lambdaPort?: number;
  env?: Record<string, string | undefined>;
  inheritOutput?: boolean;
  watch?: boolean;
}

export interface Offline {
  process: ManagedProcess;
  httpUrl: string;
  websocketUrl: string;
  /** Where PostToConnection goes (serverless-offline's WebSocket port, no stage in the path). */
  managementEndpoint: string;
}

export async function startOffline(options: OfflineOptions): Promise<Offline> {
  const httpPort = options.httpPort ?? (await freePort());
  const websocketPort = options.websocketPort ?? (await freePort());
  const lambdaPort = options.lambdaPort ?? (await freePort());
  const managementEndpoint = `http://127.0.0.1:${websocketPort}`;
  const offline = startProcess({
    name: `serverless-offline:${httpPort}`,
    command: path.join(projectRoot, 'node_modules', '.bin', 'serverless'),
    args: [
      'offline',
      'start',
      '--httpPort',
      String(httpPort),
      '--websocketPort',
      String(websocketPort),
      '--lambdaPort',
      String(lambdaPort),
      ...(options.watch === true ? ['--reloadHandler'] : []),
    ],
    env: {
      SLS_TELEMETRY_DISABLED: '1',
      SLS_NOTIFICATIONS_MODE: 'off',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      REDIS_URL: options.redisUrl,
      KEY_PREFIX: options.keyPrefix,
      WA_ENGINE: options.engine,
      API_KEYS: options.apiKeys,
      WS_MANAGEMENT_ENDPOINT: managementEndpoint,
      ...options.env,
    },
    inheritOutput: options.inheritOutput ?? false,
  });
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  try {
    await waitForOutput(offline, /Server ready/, 90_000);
    await waitFor(`${httpUrl}/api/health`, async () => ((await fetch(`${httpUrl}/api/health`)).status > 0 ? true : undefined), 30_000);
  } catch (error) {
    await offline.stop(2_000);
    throw error;
  }
  return { process: offline, httpUrl, websocketUrl: `ws://127.0.0.1:${websocketPort}`, managementEndpoint };
}
