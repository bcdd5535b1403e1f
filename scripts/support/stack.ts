/** Starting the service's own processes: session hosts and serverless offline (the local twin of API Gateway). */
import path from 'node:path';
import { abortIfExited, freePort, projectRoot, startProcess, waitFor, waitForOutput, type ManagedProcess } from './processes.js';

/** How a session host is started, here and in the Dockerfile's CMD (test/unit/container.test.ts holds them equal). */
export const sessionHostArgs = ['--import', 'tsx', 'session-host/main.ts'];

export interface SessionHostOptions {
  redisUrl: string;
  keyPrefix: string;
  engine: 'webjs' | 'simulator';
  hostId: string;
  dataDir: string;
  /** The local blob store, shared with serverless offline (MEDIA_DIR; default data/media of the project). */
  mediaDir?: string;
  wsManagementEndpoint: string;
  env?: Record<string, string | undefined>;
  inheritOutput?: boolean;
  /** Its output line by line instead (the local stack's log formatting and QR follower). */
  relay?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Reload when the code changes (`npm run dev`). */
  watch?: boolean;
  /** How long it may take to say it is ready (default 60 s). */
  readyTimeoutMs?: number;
}

/** The URL without its credentials, for messages: `redis://user:secret@host:6379/0` → `redis://host:6379/0`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '(not a URL)';
  }
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
      ...(options.mediaDir === undefined ? {} : { MEDIA_DIR: options.mediaDir }),
      WS_MANAGEMENT_ENDPOINT: options.wsManagementEndpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // The local stack's webhook receivers run on this machine (never on deployed stages).
      WEBHOOK_ALLOW_PRIVATE: 'true',
      ...options.env,
    },
    inheritOutput: options.inheritOutput ?? false,
    ...(options.relay === undefined ? {} : { relay: options.relay }),
  });
  try {
    await waitForOutput(host, /session host ready/, options.readyTimeoutMs ?? 60_000);
  } catch (error) {
    await host.stop(2_000);
    const message = error instanceof Error ? error.message : String(error);
    // The host waits for Redis for ever, saying so: name the Redis it could not reach.
    if (/Redis is not reachable/.test(host.output())) {
      throw new Error(`the session host could not reach Redis at ${redactUrl(options.redisUrl)}: ${message}`);
    }
    throw error;
  }
  return host;
}

export interface OfflineOptions {
  redisUrl: string;
  keyPrefix: string;
  engine: 'webjs' | 'simulator';
  apiKeys: string;
  /** The local blob store, shared with the session hosts (MEDIA_DIR; default data/media of the project). */
  mediaDir?: string;
  httpPort?: number;
  websocketPort?: number;
  lambdaPort?: number;
  env?: Record<string, string | undefined>;
  inheritOutput?: boolean;
  relay?: (line: string, stream: 'stdout' | 'stderr') => void;
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
      ...(options.mediaDir === undefined ? {} : { MEDIA_DIR: options.mediaDir }),
      WS_MANAGEMENT_ENDPOINT: managementEndpoint,
      ...options.env,
    },
    inheritOutput: options.inheritOutput ?? false,
    ...(options.relay === undefined ? {} : { relay: options.relay }),
  });
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  try {
    // A port taken after all (serverless offline does not always exit on it): fail at once, naming it.
    await waitForOutput(offline, /Server ready/, 90_000, /EADDRINUSE[^\n]*|address already in use[^\n]*/i);
    await waitFor(
      `${httpUrl}/api/health`,
      async () => {
        abortIfExited(offline, `before ${httpUrl}/api/health answered`);
        return (await fetch(`${httpUrl}/api/health`)).status > 0 ? true : undefined;
      },
      30_000,
    );
  } catch (error) {
    await offline.stop(2_000);
    throw error;
  }
  return { process: offline, httpUrl, websocketUrl: `ws://127.0.0.1:${websocketPort}`, managementEndpoint };
}
