/**
 * The local twin of the deployment: Redis (unless REDIS_URL names one), one session host, and serverless offline
 * serving the REST API on 127.0.0.1:3000 and the WebSocket API on 127.0.0.1:3001. Prints the URLs and the local
 * API key; Ctrl-C stops everything. `--watch` reloads functions and session host when their code changes.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ManagedProcess } from './support/processes.js';
import { projectRoot } from './support/processes.js';
import { startRedisServer, type LocalRedis } from './support/redis-server.js';
import { startOffline, startSessionHost, type Offline } from './support/stack.js';

const watch = process.argv.includes('--watch');
const engine = process.env.WA_ENGINE === 'simulator' ? 'simulator' : 'webjs';
if (process.env.WA_ENGINE !== undefined && process.env.WA_ENGINE !== engine) {
  process.stderr.write(`WA_ENGINE must be webjs or simulator, not ${JSON.stringify(process.env.WA_ENGINE)}\n`);
  process.exit(2);
}
const localDir = path.join(projectRoot, '.local');
mkdirSync(localDir, { recursive: true });

/** One dev key per checkout, kept in .local/ so that it stays the same across restarts. Local stage only. */
function localApiKeys(): string {
  if (process.env.API_KEYS) return process.env.API_KEYS;
  const file = path.join(localDir, 'dev-api-key');
  if (!existsSync(file)) writeFileSync(file, `dev-${randomBytes(16).toString('hex')}\n`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

let redis: LocalRedis | undefined;
let offline: Offline | undefined;
let host: ManagedProcess | undefined;
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    process.stdout.write('\nstopping the local stack…\n');
    await host?.stop(25_000);
    await offline?.process.stop(5_000);
    await redis?.stop();
  }
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  const apiKeys = localApiKeys();
  let redisUrl = process.env.REDIS_URL;
  if (redisUrl === undefined || redisUrl === '') {
    const persistIn = path.join(localDir, 'redis');
    mkdirSync(persistIn, { recursive: true });
    redis = await startRedisServer({ persistIn });
    redisUrl = redis.url;
  }
  const keyPrefix = process.env.KEY_PREFIX ?? 'wa';
  offline = await startOffline({
    redisUrl,
    keyPrefix,
    engine,
    apiKeys,
    httpPort: 3000,
    websocketPort: 3001,
    lambdaPort: 3002,
    inheritOutput: true,
    watch,
  });
  host = await startSessionHost({
    redisUrl,
    keyPrefix,
    engine,
    hostId: process.env.HOST_ID ?? 'local',
    dataDir: process.env.DATA_DIR ?? path.join(projectRoot, 'data', 'sessions'),
    wsManagementEndpoint: process.env.WS_MANAGEMENT_ENDPOINT ?? offline.managementEndpoint,
    inheritOutput: true,
    watch,
  });
  void host.exited.then(({ code }) => {
    if (!stopping && !watch) {
      process.stderr.write(`the session host exited (code ${code}); stopping\n`);
      void stopAll(1);
    }
  });
  const firstKey = apiKeys.split(',')[0] ?? '';
  process.stdout.write(
    [
      '',
      '  whatsapp-service is running locally',
      `    engine     ${engine}${engine === 'webjs' ? '   (WA_ENGINE=simulator npm start for the simulated network)' : ''}`,
      `    REST API   ${offline.httpUrl}/api   (health: ${offline.httpUrl}/api/health)`,
      `    WebSocket  ${offline.websocketUrl}/?apiKey=${firstKey}`,
      `    API key    ${firstKey}   (header x-api-key; local stage only)`,
      `    Redis      ${redis === undefined ? 'REDIS_URL (yours)' : `${redisUrl} (data in .local/redis)`}`,
      '  Try:',
      `    curl -s -X POST -H 'x-api-key: ${firstKey}' -H 'content-type: application/json' -d '{"sessionId":"alice"}' ${offline.httpUrl}/api/sessions`,
      '  Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
} catch (error) {
  process.stderr.write(`could not start the local stack: ${error instanceof Error ? error.message : String(error)}\n`);
  await stopAll(1);
}
