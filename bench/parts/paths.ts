/**
 * Parts 1 and 2 of the benchmarks, on one stack (redis-server, one simulator session host, serverless offline):
 *
 * 1. Command path: POST /api/messages/:id/send through the REST handler, invoked in this process with an API Gateway
 *    HTTP API (v2) event and over HTTP through serverless offline, → Redis → session host → reply; closed loop at
 *    concurrency 1, 16 and 64. Floor: a bare ioredis LPUSH → BRPOP → PUBLISH round trip to another process.
 * 2. Event path: from the simulator engine raising a `message` event (its data.timestamp) to `ws` clients receiving
 *    it through serverless offline; open loop at 1,000 events/s. Floor: a bare PostToConnection to one client.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import type { APIGatewayProxyResult, LambdaContext, LambdaEvent } from 'hono/aws-lambda';
import { simulatorControl } from '../../contract/simulator.js';
import { createConnectionPoster } from '../../lib/connection-poster.js';
import { startProcess, waitFor, waitForOutput } from '../../scripts/support/processes.js';
import { whenOpen } from '../../scripts/support/websocket.js';
import { inParallel, quietEnv, startBenchStack, type BenchStack } from '../support/bench-stack.js';
import { cpuDuring, formatCpu, processTree } from '../support/proc.js';
import { runPart, type PartContext, type Table, type TargetCheck } from '../support/report.js';
import { closedLoop, ms, openLoop, perSecond, ratio, sleep, summarize, type LoadResult, type Summary } from '../support/stats.js';

const outsideNumber = '4915112345678';

runPart(async (context) => {
  const stack = await startBenchStack(context, { offline: true });
  // BENCH_SECTIONS=command or =event runs one half only (while working on the benchmark itself).
  const sections = (process.env.BENCH_SECTIONS ?? 'command,event').split(',');
  const none: Section = { method: [], tables: [], targets: [], notes: [] };
  const command = sections.includes('command') ? await commandPath(context, stack) : none;
  const events = sections.includes('event') ? await eventPath(context, stack) : none;
  return {
    part: 'paths',
    title: 'Command path and event path',
    method: [...command.method, ...events.method],
    tables: [...command.tables, ...events.tables],
    targets: [...command.targets, ...events.targets],
    notes: [...command.notes, ...events.notes],
  };
});

// ---------------------------------------------------------------------------------------------------------------
// 1. Command path

interface Section {
  method: string[];
  tables: Table[];
  targets: TargetCheck[];
  notes: string[];
}

type Handler = (event: LambdaEvent, context: LambdaContext) => Promise<APIGatewayProxyResult>;

async function commandPath(context: PartContext, stack: BenchStack): Promise<Section> {
  const offline = stack.offline;
  if (offline === undefined) throw new Error('the command path needs serverless offline');
  const timing = context.smoke ? { warmupMs: 300, durationMs: 500 } : { warmupMs: 1_500, durationMs: 5_000 };
  // serverless offline runs one worker thread per concurrent request (one Lambda instance each), each with its own
  // cold start: the first row at a new concurrency warms them up for longer.
  const httpWarmupMs = context.smoke ? 1_000 : 12_000;
  const concurrencies = process.env.BENCH_CONCURRENCIES?.split(',').map(Number) ?? (context.smoke ? [1, 4] : [1, 16, 64]);
  const top = concurrencies.at(-1) ?? 1;
  const sessionCount = context.smoke ? 2 : 4;
  const sessions = Array.from({ length: sessionCount }, (_, index) => `bench-send-${index + 1}`);
  context.log(`creating ${sessionCount} simulated sessions`);
  await inParallel(sessions, 8, (sessionId, index) => stack.createConnected(sessionId, `1555010${String(index + 1).padStart(4, '0')}`));

  // The floor: a bare request/reply peer in another process.
  const echoInbox = `${stack.keyPrefix}:echo:inbox`;
  const echo = context.track(
    startProcess({
      name: 'echo-host',
      command: process.execPath,
      args: ['--import', 'tsx', 'bench/support/echo-host.ts'],
      env: { REDIS_URL: stack.redis.url, ECHO_INBOX: echoInbox },
    }),
  );
  await waitForOutput(echo, /echo ready/, 30_000);
  const floorClient = new Redis(stack.redis.url);
  const floorSubscriber = new Redis(stack.redis.url);
  context.onCleanup(() => {
    floorClient.disconnect();
    floorSubscriber.disconnect();
  });
  const floorChannel = `${stack.keyPrefix}:echo:reply`;
  const waiting = new Map<string, () => void>();
  floorSubscriber.on('message', (_channel: string, id: string) => {
    const resolve = waiting.get(id);
    waiting.delete(id);
    resolve?.();
  });
  await floorSubscriber.subscribe(floorChannel);
  let floorSequence = 0;
  const floorRequest = async () => {
    const id = String(floorSequence++);
    const reply = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the echo peer did not answer within 5 s'));
      }, 5_000);
      waiting.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await floorClient.lpush(echoInbox, `${floorChannel}|${id}`);
    await reply;
  };

  // The REST handler in this process, as Lambda would run it (configuration from env, read at import).
  Object.assign(process.env, {
    ...quietEnv,
    REDIS_URL: stack.redis.url,
    KEY_PREFIX: stack.keyPrefix,
    WA_ENGINE: 'simulator',
    API_KEYS: stack.apiKey,
    SEND_RATE_LIMIT: '0',
    COMMAND_TIMEOUT_MS: '15000',
    WS_MANAGEMENT_ENDPOINT: offline.managementEndpoint,
  });
  const { handler } = (await import('../../functions/http/handler.js')) as { handler: Handler };
  const lambdaContext: LambdaContext = {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'whatsapp-service-bench-api',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:whatsapp-service-bench-api',
    memoryLimitInMB: '512',
    awsRequestId: 'bench',
    logGroupName: '/aws/lambda/whatsapp-service-bench-api',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => 29_000,
  };
  const sendBody = (sequence: number) => JSON.stringify({ chatId: outsideNumber, text: `bench ${sequence}` });
  const inProcessSend = async (sessionId: string, sequence: number) => {
    const body = sendBody(sequence);
    const rawPath = `/api/messages/${sessionId}/send`;
    const requestId = randomUUID();
    const now = Date.now();
    const event: LambdaEvent = {
      version: '2.0',
      routeKey: '$default',
      rawPath,
      rawQueryString: '',
      headers: {
        'x-api-key': stack.apiKey,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        host: 'bench.execute-api.eu-west-1.amazonaws.com',
      },
      requestContext: {
        accountId: '000000000000',
        apiId: 'bench',
        authentication: null,
        authorizer: {},
        domainName: 'bench.execute-api.eu-west-1.amazonaws.com',
        domainPrefix: 'bench',
        http: { method: 'POST', path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
        requestId,
        routeKey: '$default',
        stage: '$default',
        time: new Date(now).toISOString(),
        timeEpoch: now,
      },
      body,
      isBase64Encoded: false,
    };
    const result = await handler(event, { ...lambdaContext, awsRequestId: requestId });
    if (result.statusCode !== 201) throw new Error(`in-process send answered ${result.statusCode}: ${result.body.slice(0, 300)}`);
  };

  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  context.onCleanup(() => agent.destroy());
  const httpUrl = new URL(offline.httpUrl);
  const httpSend = (sessionId: string, sequence: number) =>
    new Promise<void>((resolve, reject) => {
      const body = sendBody(sequence);
      const req = httpRequest(
        {
          agent,
          host: httpUrl.hostname,
          port: httpUrl.port,
          method: 'POST',
          path: `/api/messages/${sessionId}/send`,
          headers: { 'x-api-key': stack.apiKey, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: 30_000,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            if (response.statusCode === 201) resolve();
            else reject(new Error(`HTTP send answered ${response.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`));
          });
          response.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('HTTP send timed out')));
      req.on('error', reject);
      req.end(body);
    });

  const cpuGroups = {
    bench: () => [process.pid],
    'session host': () => processTree(stack.host.pid),
    redis: () => [stack.redis.process.pid],
    'sls offline': () => processTree(offline.process.pid),
    'echo peer': () => [echo.pid],
  };
  const measure = async (
    label: string,
    concurrency: number,
    op: (worker: number, sequence: number) => Promise<void>,
    warmupMs = timing.warmupMs,
  ) => {
    context.log(`command path: ${label} at concurrency ${concurrency}`);
    const { result, cpu } = await cpuDuring(cpuGroups, () => closedLoop({ concurrency, warmupMs, durationMs: timing.durationMs, op }));
    if (result.errors > 0) context.log(`  ${result.errors} errors, the first: ${result.firstError ?? '?'}`);
    const busy = Object.fromEntries(Object.entries(cpu).filter(([, percent]) => percent >= 3));
    return { ...result, cpu: formatCpu(busy) };
  };

  const rows: Array<{ path: string; concurrency: number; result: LoadResult & { cpu: string }; floor: Summary }> = [];
  const floors = new Map<number, LoadResult & { cpu: string }>();
  for (const concurrency of concurrencies) {
    const floor = await measure('floor (bare ioredis request/reply)', concurrency, () => floorRequest());
    floors.set(concurrency, floor);
    rows.push({ path: 'floor: bare Redis request/reply', concurrency, result: floor, floor });
    const inProcess = await measure('REST handler in-process', concurrency, (worker, sequence) =>
      inProcessSend(sessions[worker % sessions.length] ?? 'bench-send-1', sequence),
    );
    rows.push({ path: 'REST handler in-process', concurrency, result: inProcess, floor });
    const overHttp = await measure(
      'serverless offline over HTTP',
      concurrency,
      (worker, sequence) => httpSend(sessions[worker % sessions.length] ?? 'bench-send-1', sequence),
      concurrency > 1 ? httpWarmupMs : timing.warmupMs,
    );
    rows.push({ path: 'serverless offline, HTTP', concurrency, result: overHttp, floor });
  }
  // Commands of one session run one at a time on its host: what one session alone can take.
  const single = await measure('REST handler in-process, one session', top, (_worker, sequence) => inProcessSend('bench-send-1', sequence));
  rows.push({ path: 'REST handler in-process, all to one session', concurrency: top, result: single, floor: floors.get(top) ?? single });

  const table: Table = {
    title:
      `Command path: one send, request → reply (${sessionCount} connected simulated sessions, round robin; ` +
      `${timing.durationMs / 1000} s per row after ${timing.warmupMs / 1000} s warm-up, ${httpWarmupMs / 1000} s for HTTP at c > 1)`,
    columns: ['path', 'concurrency', 'sends', 'p50 ms', 'p99 ms', 'sends/s', 'p50 / floor', 'p99 / floor', 'errors', 'CPU (% of one core)'],
    rows: rows.map(({ path, concurrency, result, floor }) => [
      path,
      String(concurrency),
      perSecond(result.count),
      ms(result.p50),
      ms(result.p99),
      perSecond(result.throughput),
      path.startsWith('floor') ? '1.0×' : ratio(result.p50, floor.p50),
      path.startsWith('floor') ? '1.0×' : ratio(result.p99, floor.p99),
      String(result.errors),
      result.cpu,
    ]),
  };

  const find = (path: string, concurrency: number) => rows.find((row) => row.path === path && row.concurrency === concurrency);
  const targets: TargetCheck[] = [];
  const inProcessRows = rows.filter((row) => row.path === 'REST handler in-process');
  const worstRatio = Math.max(...inProcessRows.map((row) => row.result.p50 / row.floor.p50));
  targets.push({
    target: 'Command path: p50 in-process within 2× the floor (at 1, 16, 64)',
    measured: inProcessRows.map((row) => `c=${row.concurrency}: ${ratio(row.result.p50, row.floor.p50)}`).join(', '),
    met: inProcessRows.every((row) => row.result.p50 <= 2 * row.floor.p50 && row.result.errors === 0),
    limit: limitOfRatio(worstRatio),
  });
  const c16 = find('REST handler in-process', 16);
  const c16http = find('serverless offline, HTTP', 16);
  targets.push({
    target: 'Command path: p99 under 5 ms at concurrency 16',
    measured: `in-process ${ms(c16?.result.p99 ?? Number.NaN)} ms; over HTTP ${ms(c16http?.result.p99 ?? Number.NaN)} ms`,
    met: c16 === undefined ? null : c16.result.p99 < 5,
    limit:
      'The in-process figure is the service\'s own; over HTTP adds serverless offline (one worker thread per concurrent ' +
      'request, as Lambda has one instance per request), which real API Gateway does not run on this machine.',
  });
  const best = Math.max(...rows.filter((row) => !row.path.startsWith('floor')).map((row) => row.result.throughput));
  const c64 = find('REST handler in-process', top);
  targets.push({
    target: 'Command path: at least 3,000 sends/s through one session host',
    measured: `${perSecond(best)} sends/s at best (in-process c=${top}: ${perSecond(c64?.result.throughput ?? Number.NaN)}, CPU ${c64?.result.cpu ?? '?'})`,
    met: best >= 3_000,
    limit:
      'Two cores shared by the load generator with the handler, Redis and the host: the CPU column shows where the time goes. ' +
      'Commands of one session run one at a time on its host (the "one session" row shows that ceiling).',
  });
  return {
    method: [
      'Command path: `POST /api/messages/:id/send` to an outside number (simulated sessions, `SEND_RATE_LIMIT=0`), closed loop: ' +
        'each of N workers sends its next request when its last one is answered. "In-process" imports functions/http/handler.ts ' +
        'in the benchmark process and calls `handler(event, context)` with an API Gateway HTTP API v2 event, so the figure ' +
        'holds the whole handler (Hono, API key check, validation, session lookup, command bus) and the session host, but no ' +
        'HTTP. "HTTP" goes through `serverless offline` (node:http keep-alive client). The floor is a bare LPUSH → BRPOP (+RPOP ' +
        'batch) → PUBLISH round trip between this process and another Node process with ioredis, measured in the same run ' +
        'just before each row. CPU is read from /proc/<pid>/stat over the row (100% = one core; the machine has two).',
    ],
    tables: [table],
    targets,
    notes: [
      'Where the CPU goes (a V8 CPU profile of the host and of the in-process handler at concurrency 16, taken while ' +
        'writing this benchmark, not re-taken by each run): in the session host about 17% of its busy time is socket ' +
        'writes (`writeUtf8String`: ioredis writes every command with its own write, no auto-pipelining) and about 6% the ' +
        "simulator's ack lookup (`applyAck` scans up to 1,000 messages of the chat with `find` for every ack); in the " +
        "handler, about a quarter is Node's undici building a web `Request` (with its AbortSignal) for each event in " +
        "hono's aws-lambda adapter, and another 10% socket writes. Since that profile, the Redis connections that neither " +
        'block nor subscribe auto-pipeline, the simulator finds acks by id, and a send is answered before the simulated ' +
        'network carries it.',
    ],
  };
}

function limitOfRatio(worst: number): string {
  return (
    `Worst p50 ratio ${worst.toFixed(1)}×. A send costs the handler one Redis round trip before the command (route-command-2: ` +
    'lookup, owner liveness, status and LPUSH+PEXPIRE in one script) and the host its BRPOP and PUBLISH, as many as ' +
    'the floor; plus, per send, the Hono adapter building a web Request, zod validation of the body, the ' +
    'envelope and the reply, and a log line. Under concurrency the load generator, the handler, Redis and the host share ' +
    'two cores, so the ratio grows with queueing, not with Redis.'
  );
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Event path

interface BenchFrame {
  event?: string;
  t?: number;
  data?: { timestamp?: string };
  events?: BenchFrame[];
}

interface Client {
  socket: WebSocket;
  sessionId: string;
}

async function connectClient(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  await whenOpen(socket, 15_000);
  return socket;
}

const nowEpochMs = () => performance.timeOrigin + performance.now();

async function eventPath(context: PartContext, stack: BenchStack): Promise<Section> {
  const offline = stack.offline;
  if (offline === undefined) throw new Error('the event path needs serverless offline');
  const durationMs = context.smoke ? 600 : 5_000;
  const rate = context.smoke ? 200 : 1_000;
  const fanOut = context.smoke ? 5 : 100;
  const drainMs = context.smoke ? 3_000 : 15_000;

  const clients: Client[] = [];
  context.onCleanup(() => {
    for (const client of clients) client.socket.terminate();
  });
  const open = async (sessionId: string, batch = false) => {
    const socket = await connectClient(`${offline.websocketUrl}/?apiKey=${stack.apiKey}&sessionId=${sessionId}${batch ? '&batch=1' : ''}`);
    const client = { socket, sessionId };
    clients.push(client);
    return client;
  };

  // Sessions whose events are measured: one for a single client, `fanOut` with one client each, one watched by all.
  const single = 'bench-ev-single';
  // One client that asked for batching (`?batch=1`), at twice the rate.
  const batching = 'bench-ev-batching';
  const batchRate = Number(process.env.BENCH_BATCH_RATE ?? rate * 2); // BENCH_BATCH_RATE: while working on the benchmark
  const spread = Array.from({ length: fanOut }, (_, index) => `bench-ev-${index + 1}`);
  const broadcast = 'bench-ev-broadcast';
  context.log(`event path: creating ${spread.length + 2} simulated sessions`);
  await inParallel([single, batching, broadcast, ...spread], 8, (sessionId, index) =>
    stack.createConnected(sessionId, `1555020${String(index + 1).padStart(4, '0')}`),
  );

  // Latency samples per scenario: receive time (this process) − the event's data.timestamp (when the engine raised it).
  let sink: number[] | undefined;
  let received = 0;
  const listen = (client: Client) => {
    client.socket.on('message', (raw: Buffer) => {
      const at = nowEpochMs();
      const parsed = JSON.parse(raw.toString()) as BenchFrame;
      // A batching connection's frame carries several events: each counts, with its own latency.
      for (const frame of parsed.event === 'batch' ? (parsed.events ?? []) : [parsed]) measure(frame, at);
    });
  };
  const measure = (frame: BenchFrame, at: number) => {
      if (frame.event === 'bench-floor' && typeof frame.t === 'number') {
        sink?.push(at - frame.t);
        received += 1;
      } else if (frame.event === 'message' && typeof frame.data?.timestamp === 'string') {
        sink?.push(at - Date.parse(frame.data.timestamp));
        received += 1;
      }
  };

  const incoming = (sessionId: string, sequence: number) => {
    void stack.bus
      .post({ hostId: stack.hostId, sessionId }, simulatorControl('incoming', { from: outsideNumber, text: `bench event ${sequence}` }), 60_000)
      .catch(() => undefined);
  };

  const cpuGroups = {
    bench: () => [process.pid],
    'session host': () => processTree(stack.host.pid),
    redis: () => [stack.redis.process.pid],
    'sls offline': () => processTree(offline.process.pid),
  };
  interface ScenarioResult {
    label: string;
    clients: number;
    eventsPerSecond: number;
    framesPerSecond: number;
    summary: Summary;
    expected: number;
    received: number;
    cpu: string;
    floor: boolean;
  }
  const results: ScenarioResult[] = [];
  const scenario = async (
    label: string,
    options: { clients: number; eventsPerSecond: number; framesPerEvent: number; fire: (sequence: number) => void; floor?: boolean },
  ) => {
    context.log(`event path: ${label}`);
    const samples: number[] = [];
    sink = samples;
    received = 0;
    const { result: fired, cpu } = await cpuDuring(cpuGroups, async () => {
      const count = await openLoop({ ratePerSecond: options.eventsPerSecond, durationMs, fire: options.fire });
      const expected = count * options.framesPerEvent;
      const deadline = Date.now() + drainMs;
      while (received < expected && Date.now() < deadline) await sleep(20);
      return count;
    });
    const expected = fired * options.framesPerEvent;
    sink = undefined;
    await sleep(200); // late frames of this scenario must not count in the next
    const busy = Object.fromEntries(Object.entries(cpu).filter(([, percent]) => percent >= 3));
    const row: ScenarioResult = {
      label,
      clients: options.clients,
      eventsPerSecond: options.eventsPerSecond,
      framesPerSecond: options.eventsPerSecond * options.framesPerEvent,
      summary: summarize(samples),
      expected,
      received: samples.length,
      cpu: formatCpu(busy),
      floor: options.floor === true,
    };
    if (row.received < row.expected) context.log(`  received ${row.received} of ${row.expected} frames`);
    results.push(row);
    return row;
  };

  // Floor: PostToConnection from this process straight to one client (the same AWS SDK client the host uses).
  const floorClient = await open('bench-ev-floor');
  listen(floorClient);
  const connectionId = await waitFor(
    'the floor client in the registry',
    async () => (await stack.client.zrange(stack.keys.wsFollowers('bench-ev-floor'), 0, -1))[0],
    10_000,
  );
  const poster = createConnectionPoster(offline.managementEndpoint);
  context.onCleanup(() => poster.close());
  // A few posts to open the SDK's connections before measuring.
  for (let index = 0; index < 20; index += 1) await poster.post(connectionId, JSON.stringify({ event: 'warm-up' }));
  // The single-client path at a lower rate too, each rate next to its floor: where the knee is.
  const rates = context.smoke ? [rate] : [rate / 4, rate];
  const floors = new Map<number, ScenarioResult>();
  listen(await open(single));
  for (const offered of rates) {
    floors.set(
      offered,
      await scenario(`floor: bare PostToConnection, 1 client, ${perSecond(offered)}/s`, {
        clients: 1,
        eventsPerSecond: offered,
        framesPerEvent: 1,
        floor: true,
        fire: (sequence) => {
          void poster.post(connectionId, JSON.stringify({ event: 'bench-floor', t: nowEpochMs(), seq: sequence }));
        },
      }),
    );
    await scenario(`engine event → 1 client, ${perSecond(offered)}/s`, {
      clients: 1,
      eventsPerSecond: offered,
      framesPerEvent: 1,
      fire: (sequence) => incoming(single, sequence),
    });
  }
  listen(await open(batching, true));
  const floor = floors.get(rate) ?? results[0];
  if (floor === undefined) throw new Error('no floor measured');

  await inParallel(spread, 10, async (sessionId) => listen(await open(sessionId)));
  await scenario(`engine events of ${fanOut} sessions → ${fanOut} clients (one each)`, {
    clients: fanOut,
    eventsPerSecond: rate,
    framesPerEvent: 1,
    fire: (sequence) => incoming(spread[sequence % spread.length] ?? single, sequence),
  });

  const broadcastRate = Math.max(1, Math.round(rate / fanOut));
  await inParallel(Array.from({ length: fanOut }, () => broadcast), 10, async (sessionId) => listen(await open(sessionId)));
  await scenario(`engine event → ${fanOut} clients of one session`, {
    clients: fanOut,
    eventsPerSecond: broadcastRate,
    framesPerEvent: fanOut,
    fire: (sequence) => incoming(broadcast, sequence),
  });
  // Last: a batching client at twice the rate. Its floor is the bare post at the single-client rate (a bare post at
  // 2,000/s, fired without a queue, floods serverless offline's WebSocket server until it stops taking connections).
  const batchedRow = await scenario(`engine event → 1 batching client (?batch=1), ${perSecond(batchRate)}/s`, {
    clients: 1,
    eventsPerSecond: batchRate,
    framesPerEvent: 1,
    fire: (sequence) => incoming(batching, sequence),
  });
  const table: Table = {
    title: `Event path: engine raises a message event → ws client receives it through serverless offline (open loop, ${durationMs / 1000} s per row)`,
    columns: ['scenario', 'clients', 'events/s offered', 'frames/s offered', 'frames received', 'p50 ms', 'p99 ms', 'p50 / floor', 'p99 / floor', 'CPU (% of one core)'],
    rows: results.map((row) => [
      row.label,
      String(row.clients),
      perSecond(row.eventsPerSecond),
      perSecond(row.framesPerSecond),
      `${perSecond(row.received)} of ${perSecond(row.expected)}`,
      ms(row.summary.p50),
      ms(row.summary.p99),
      row.floor ? '1.0×' : ratio(row.summary.p50, (floors.get(row.framesPerSecond) ?? floor).summary.p50),
      row.floor ? '1.0×' : ratio(row.summary.p99, (floors.get(row.framesPerSecond) ?? floor).summary.p99),
      row.cpu,
    ]),
  };
  const at1000 = results.filter((row) => !row.floor && row.eventsPerSecond >= rate && row !== batchedRow);
  const met = (row: ScenarioResult) => row.summary.p99 < 25 && row.received === row.expected;
  const targets: TargetCheck[] = [
    {
      target: 'Event path: p99 under 25 ms at 1,000 events/s',
      measured:
        at1000.map((row) => `${row.label}: p99 ${ms(row.summary.p99)} ms, ${perSecond(row.received)}/${perSecond(row.expected)} frames`).join('; ') +
        `; the floor itself at ${perSecond(rate)}/s: p99 ${ms(floor.summary.p99)} ms`,
      met: context.smoke ? null : at1000.every(met),
      limit:
        'Each event is appended to its session\'s Redis stream (MULTI XADD+XTRIM), its recipients looked up (SUNION, in ' +
        'order within a session), then posted to each connection through the AWS SDK, one post at a time per ' +
        'connection (the contract keeps order per connection, so posts to one client cannot overlap). The floor row is one SDK post with no queue; a connection\'s queue ' +
        `backs up once events come faster than one post round trip. A broadcast costs one post per client: ${fanOut} clients ` +
        `of one session at ${perSecond(rate)} events/s would be ${perSecond(rate * fanOut)} posts/s, so it is measured at ` +
        `${perSecond(broadcastRate)} events/s (${perSecond(broadcastRate * fanOut)} frames/s).`,
    },
  ];
  const batchFloor = floors.get(rate);
  targets.push({
    target: `Event path, batching: one client at ${perSecond(batchRate)} events/s with p99 under 50 ms, nothing lost`,
    measured:
      `p50 ${ms(batchedRow.summary.p50)} ms, p99 ${ms(batchedRow.summary.p99)} ms, ${perSecond(batchedRow.received)}/${perSecond(batchedRow.expected)} events` +
      (batchFloor === undefined ? '' : `; the floor (bare posts, no queue) at ${perSecond(rate)}/s: p99 ${ms(batchFloor.summary.p99)} ms`),
    met: context.smoke ? null : batchedRow.summary.p99 < 50 && batchedRow.received === batchedRow.expected,
    limit:
      'A batching connection gets every event queued behind its post in flight in one `batch` frame (up to 32 KB), so ' +
      'its throughput is no longer one event per post round trip; what is left is the per-event work before the post ' +
      '(the append to the session stream, the recipient look-up) and the generator, handler and host sharing the cores.',
  });
  return {
    method: [
      'Event path: the benchmark pushes `incoming` simulator controls (`engine.control` commands) straight onto the host\'s inbox (fire and forget, no HTTP on the ' +
        'generator side) at a fixed rate (open loop: a timer each ms fires what is due, whatever the answers take). The ' +
        'simulator raises a `message` event; latency = when the `ws` client in this process received the frame − the ' +
        'event\'s `data.timestamp` (set by the host when the engine raised it; ms precision, so each figure may be up to ' +
        '1 ms high). The floor: a `PostToConnection` (same AWS SDK client as the host) from this process to one client, ' +
        'fired at the same rate, latency = receive − post start. Frames still missing after the drain time are counted ' +
        'as lost, not as latency.',
    ],
    tables: [table],
    targets,
    notes: [],
  };
}
