/**
 * The local twin of the deployment: Redis (unless REDIS_URL names one), one session host, and serverless offline
 * serving the REST API on 127.0.0.1:HTTP_PORT (3000) and the WebSocket API on 127.0.0.1:WS_PORT (3001), its Lambda
 * API on LAMBDA_PORT (3002). Prints the URLs, the local API key, and the QR of each session waiting for a scan.
 * `--watch` reloads functions and session host when their code changes; `--reset` removes the local data.
 *
 * Stopping: the first SIGINT/SIGTERM starts a graceful stop of everything this process started (one Ctrl-C reaches
 * it up to three times, from the terminal, npm and scripts/bootstrap.mjs: those count once). Another one at least
 * 500 ms later hurries it: SIGKILL to every child's process group and every descendant. Either way this process
 * exits only once all of them are gone.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { formatChildLine, formatOwnLine, logFormatFrom, type LogFormat } from './support/log-format.js';
import {
  assertPortsFree,
  descendants,
  freePort,
  isAlive,
  liveProcesses,
  PortInUseError,
  projectRoot,
  type ManagedProcess,
} from './support/processes.js';
import { followQrCodes, qrForTerminal } from './support/qr-follower.js';
import { startRedisServer, type LocalRedis } from './support/redis-server.js';
import { redactUrl, startOffline, startSessionHost, type Offline } from './support/stack.js';

const args = process.argv.slice(2);
const watch = args.includes('--watch');
const reset = args.includes('--reset');

let format: LogFormat = 'json';
const colour = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;

function say(msg: string, fields: Record<string, unknown> = {}, level: 'info' | 'warn' | 'error' = 'info'): void {
  const line = formatOwnLine(level, msg, fields, format, colour);
  (level === 'info' ? process.stdout : process.stderr).write(`${line}\n`);
}

/** Stops before anything started, with a message naming the problem. */
function refuse(message: string, code = 2): never {
  say(message, {}, 'error');
  process.exit(code);
}

function portFrom(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65_535) refuse(`${name} must be a port number (1 to 65535), not ${JSON.stringify(raw)}`);
  return port;
}

try {
  format = logFormatFrom(process.env.LOG_FORMAT, process.stdout.isTTY === true);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
const engine = process.env.WA_ENGINE === 'simulator' ? 'simulator' : 'webjs';
if (process.env.WA_ENGINE !== undefined && process.env.WA_ENGINE !== '' && process.env.WA_ENGINE !== engine) {
  refuse(`WA_ENGINE must be webjs or simulator, not ${JSON.stringify(process.env.WA_ENGINE)}`);
}
const ports = { http: portFrom('HTTP_PORT', 3000), websocket: portFrom('WS_PORT', 3001), lambda: portFrom('LAMBDA_PORT', 3002) };
if (new Set(Object.values(ports)).size !== 3) refuse(`HTTP_PORT, WS_PORT and LAMBDA_PORT must differ (${ports.http}, ${ports.websocket}, ${ports.lambda})`);
/** Where the stack keeps its Redis data, the dev key and its state file (tests: a temporary directory). */
const localDir = path.resolve(projectRoot, process.env.LOCAL_DIR || '.local');
const dataDir = path.resolve(projectRoot, process.env.DATA_DIR || path.join('data', 'sessions'));
const mediaDir = path.resolve(projectRoot, process.env.MEDIA_DIR || path.join('data', 'media'));
const redisDir = path.join(localDir, 'redis');
const stateFile = path.join(localDir, 'stack.json');
const printQr = process.env.PRINT_QR !== '0';

const portList = [
  { name: 'HTTP', port: ports.http },
  { name: 'WebSocket', port: ports.websocket },
  { name: 'Lambda', port: ports.lambda },
];

/** The running stack as the state file records it, when its process still lives. */
function runningStack(): { pid: number } | undefined {
  try {
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { pid?: unknown };
    return typeof state.pid === 'number' && state.pid !== process.pid && isAlive(state.pid) ? { pid: state.pid } : undefined;
  } catch {
    return undefined;
  }
}

/** PIDs of redis-server processes whose data directory is `directory` (read from /proc: Linux). */
function redisServersUsing(directory: string): number[] {
  const found: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return found;
  }
  for (const entry of entries) {
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const dirAt = argv.indexOf('--dir');
      if (/redis-server/.test(argv[0] ?? '') && dirAt !== -1 && path.resolve(argv[dirAt + 1] ?? '') === directory) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function resetLocalStack(): Promise<never> {
  const running = runningStack();
  if (running !== undefined) refuse(`the local stack is running (pid ${running.pid}): stop it (Ctrl-C) before --reset`, 1);
  const redisPids = redisServersUsing(redisDir);
  if (redisPids.length > 0) refuse(`a redis-server still uses ${redisDir} (pid ${redisPids.join(', ')}): stop it before --reset`, 1);
  try {
    await assertPortsFree(portList);
  } catch (error) {
    refuse(`${(error as Error).message}; is the local stack still running? Stop it before --reset`, 1);
  }
  for (const directory of [redisDir, dataDir]) {
    rmSync(directory, { recursive: true, force: true });
    say('removed', { path: path.relative(projectRoot, directory) || directory });
  }
  say('the local stack is reset: its Redis data and session data are gone (the dev API key stays)');
  process.exit(0);
}

if (reset) await resetLocalStack();

mkdirSync(localDir, { recursive: true });

/** One dev key per checkout, kept in LOCAL_DIR so that it stays the same across restarts. Local stage only. */
function localApiKeys(): string {
  if (process.env.API_KEYS) return process.env.API_KEYS;
  const file = path.join(localDir, 'dev-api-key');
  if (!existsSync(file)) writeFileSync(file, `dev-${randomBytes(16).toString('hex')}\n`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/** How a child's output reaches this process's: formatted for people, or JSON lines (its own, or wrapped) for machines. */
const relayFor = (service: string) => (line: string, stream: 'stdout' | 'stderr') => {
  if (line.trim() === '') return;
  const text = format === 'json' && !line.startsWith('{') ? JSON.stringify({ level: stream === 'stderr' ? 'warn' : 'info', time: new Date().toISOString(), service, msg: line }) : formatChildLine(line, format, colour);
  (stream === 'stdout' ? process.stdout : process.stderr).write(`${text}\n`);
};

let redis: LocalRedis | undefined;
let offline: Offline | undefined;
let host: ManagedProcess | undefined;
let follower: { close(): void } | undefined;
let stopping: Promise<void> | undefined;
let exitCode = 0;
let firstSignalAt = 0;
let hurried = false;

function writeState(): void {
  const children = [...liveProcesses].map((child) => ({ name: child.name, pid: child.pid }));
  writeFileSync(stateFile, `${JSON.stringify({ pid: process.pid, ports, children }, null, 2)}\n`);
}

/** SIGKILL to every child's process group and to every descendant, whatever group it is in. */
function killEverything(): void {
  for (const child of liveProcesses) {
    const pids = descendants(child.pid);
    for (const signalled of [-child.pid, child.pid, ...pids]) {
      try {
        process.kill(signalled, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/** Stops everything this process started (idempotent: every call waits for the same stop), then exits. */
function stopAll(code: number): Promise<void> {
  if (exitCode === 0) exitCode = code;
  stopping ??= (async () => {
    say('stopping the local stack…', colour ? { hint: 'Ctrl-C again to hurry' } : {});
    follower?.close();
    // Every descendant now, while their parents still live: after the stop, whatever of them is left goes too
    // (its start time recorded, so that a PID used again meanwhile is never hit).
    const before = [...liveProcesses].flatMap((child) => descendants(child.pid).map((pid) => ({ pid, start: startTime(pid) })));
    const services = [...liveProcesses].filter((child) => !child.name.startsWith('redis-server'));
    // The host first takes its time to close its clients and hand its state to Redis; serverless offline in parallel.
    await Promise.all(services.map((child) => child.stop(child.name.startsWith('session-host') ? 25_000 : 5_000)));
    // Then Redis, and anything else still there.
    while (liveProcesses.size > 0) await Promise.all([...liveProcesses].map((child) => child.stop(2_000)));
    for (const { pid, start } of before) {
      if (start !== undefined && startTime(pid) === start) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    rmSync(stateFile, { force: true });
    say('the local stack is stopped');
  })();
  return stopping.then(() => process.exit(exitCode));
}

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function onSignal(signal: NodeJS.Signals): void {
  const now = Date.now();
  if (stopping === undefined) {
    firstSignalAt = now;
    void stopAll(0);
    return;
  }
  // One Ctrl-C arrives several times within a few milliseconds (terminal, npm, bootstrap): those count once.
  if (!hurried && now - firstSignalAt >= 500) {
    hurried = true;
    say(`${signal} again: killing what is left`, {}, 'warn');
    killEverything();
  }
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('SIGHUP', onSignal);

async function reachRedis(url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(`Redis at ${redactUrl(url)} (REDIS_URL) is not reachable: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    client.disconnect();
  }
}

async function showQr(sessionId: string, qr: string): Promise<void> {
  if (format === 'json') {
    say('scan this QR with WhatsApp (Linked devices)', { sessionId, qr });
    return;
  }
  say(`session ${sessionId} is waiting for a scan: WhatsApp → Linked devices → Link a device`, { sessionId });
  process.stdout.write(`${await qrForTerminal(qr)}\n`);
}

/** Thrown before a start once a stop has begun: nothing may be started that the stop would miss. */
class Stopping extends Error {}
function notStopping(): void {
  if (stopping !== undefined) throw new Stopping('stopping');
}

try {
  // Before anything starts: a port taken fails now, naming it, instead of a child failing later.
  await assertPortsFree(portList);
  const apiKeys = localApiKeys();
  let redisUrl = process.env.REDIS_URL;
  if (redisUrl === undefined || redisUrl === '') {
    mkdirSync(redisDir, { recursive: true });
    const others = redisServersUsing(redisDir);
    if (others.length > 0) throw new Error(`a redis-server already uses ${redisDir} (pid ${others.join(', ')}): is another local stack running?`);
    const redisPort = await freePort();
    notStopping(); // each start spawns at once, before its first await: a stop begun later sees it
    redis = await startRedisServer({ port: redisPort, persistIn: redisDir, relay: relayFor('redis-server') });
    redisUrl = redis.url;
    say('Redis started', { redis: redisUrl, data: path.relative(projectRoot, redisDir) || redisDir });
  } else {
    await reachRedis(redisUrl);
    say('using Redis', { redis: redactUrl(redisUrl) });
  }
  writeState();
  const keyPrefix = process.env.KEY_PREFIX ?? 'wa';
  notStopping();
  offline = await startOffline({
    redisUrl,
    keyPrefix,
    engine,
    apiKeys,
    mediaDir,
    // A local stack sends media from files the developer serves on this machine (never on deployed stages).
    env: { MEDIA_FETCH_ALLOW_PRIVATE: process.env.MEDIA_FETCH_ALLOW_PRIVATE ?? 'true' },
    httpPort: ports.http,
    websocketPort: ports.websocket,
    lambdaPort: ports.lambda,
    relay: relayFor('serverless-offline'),
    watch,
  });
  writeState();
  notStopping();
  host = await startSessionHost({
    redisUrl,
    keyPrefix,
    engine,
    hostId: process.env.HOST_ID ?? 'local',
    dataDir,
    mediaDir,
    wsManagementEndpoint: process.env.WS_MANAGEMENT_ENDPOINT ?? offline.managementEndpoint,
    relay: relayFor('session-host'),
    watch,
  });
  writeState();
  void host.exited.then(({ code, signal }) => {
    if (stopping === undefined && !watch) {
      say('the session host exited; stopping', { code, signal }, 'error');
      void stopAll(1);
    }
  });
  void offline.process.exited.then(({ code, signal }) => {
    if (stopping === undefined) {
      say('serverless offline exited; stopping', { code, signal }, 'error');
      void stopAll(1);
    }
  });
  const firstKey = apiKeys.split(',')[0] ?? '';
  const urls = {
    engine,
    rest: `${offline.httpUrl}/api`,
    health: `${offline.httpUrl}/api/health`,
    websocket: `${offline.websocketUrl}/?apiKey=${firstKey}`,
    apiKey: firstKey,
    redis: redis === undefined ? redactUrl(redisUrl) : redisUrl,
  };
  if (format === 'json') say('whatsapp-service is running locally', urls);
  else {
    process.stdout.write(
      [
        '',
        '  whatsapp-service is running locally',
        `    engine     ${engine}${engine === 'webjs' ? '   (WA_ENGINE=simulator npm start for the simulated network)' : ''}`,
        `    REST API   ${urls.rest}   (health: ${urls.health})`,
        `    WebSocket  ${urls.websocket}`,
        `    API key    ${firstKey}   (header x-api-key; local stage only)`,
        `    Redis      ${redis === undefined ? `${urls.redis} (REDIS_URL)` : `${redisUrl} (data in ${path.relative(projectRoot, redisDir)})`}`,
        '  Try:',
        `    curl -s -X POST -H 'x-api-key: ${firstKey}' -H 'content-type: application/json' -d '{"sessionId":"alice"}' ${urls.rest}/sessions`,
        `  New QR codes appear here${engine === 'simulator' ? ' (simulator: scan by POST /api/simulator/sessions/:id/scan)' : ''}. Ctrl-C stops everything.`,
        '',
      ].join('\n') + '\n',
    );
  }
  if (printQr && stopping === undefined) {
    follower = followQrCodes({
      httpUrl: offline.httpUrl,
      websocketUrl: offline.websocketUrl,
      apiKey: firstKey,
      onQr: (sessionId, qr) => void showQr(sessionId, qr),
      onPairingCode: (sessionId, code) => say(`session ${sessionId}: enter this pairing code on the phone (WhatsApp → Linked devices → Link with phone number)`, { sessionId, pairingCode: code }),
      onProblem: (message) => say(message, {}, 'warn'),
    });
  }
} catch (error) {
  if (stopping === undefined) {
    const message = error instanceof Error ? error.message : String(error);
    say(`could not start the local stack: ${error instanceof PortInUseError ? message : message.slice(0, 4_000)}`, {}, 'error');
    await stopAll(1);
  }
  // Else a signal is stopping the stack, which is why a start failed: that stop ends the process.
}
