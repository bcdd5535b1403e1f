/**
 * Part 4 of the benchmarks: cold start of each function.
 *
 * Each function is bundled as serverless-esbuild bundles it for Lambda (esbuild, node platform, ESM, @aws-sdk/*
 * external since the Lambda runtime ships it, the createRequire banner, the plugins of
 * scripts/build-esbuild-plugins.mjs; one bundle per function, as `package.individually` zips them), then started in
 * a fresh Node process that imports the bundle and invokes the handler once with a representative event, against a
 * real Redis. The floor is a fresh Node process importing an empty module. Runs are interleaved (floor, each
 * function, floor, …) so that a change of the machine's load during the part weighs on all of them alike.
 */
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { freePort, projectRoot, startProcess, temporaryDirectory } from '../../scripts/support/processes.js';
import { startRedisServer } from '../../scripts/support/redis-server.js';
import { runPart, type PartContext, type PartReport, type Table, type TargetCheck } from '../support/report.js';
import { kilobytes, ms, ratio, summarize, type Summary } from '../support/stats.js';

interface FunctionUnderTest {
  name: string;
  entry: string;
  /** The first event a fresh instance answers. */
  event: (apiKey: string) => unknown;
  expectStatus: number;
  /**
   * Where the API keys come from: `env` (API_KEYS, the local stage) or `ssm` (API_KEYS_PARAMETER, as every deployed
   * stage reads them at cold start: the SSM client is loaded and one GetParameter made, here to a local stand-in).
   */
  keys?: 'env' | 'ssm';
}

/** `GET /api/sessions` with the key, as API Gateway's HTTP API hands it to the api function. */
function apiEvent(apiKey: string): unknown {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/api/sessions',
    rawQueryString: '',
    headers: { 'x-api-key': apiKey, host: 'cold.execute-api.eu-west-1.amazonaws.com' },
    requestContext: {
      accountId: '000000000000',
      apiId: 'cold',
      domainName: 'cold.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'cold',
      http: { method: 'GET', path: '/api/sessions', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId: 'cold-start',
      routeKey: '$default',
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    body: null,
    isBase64Encoded: false,
  };
}

const functions: FunctionUnderTest[] = [
  {
    name: 'api (functions/http/handler.ts)',
    entry: 'functions/http/handler.ts',
    expectStatus: 200,
    event: (apiKey) => apiEvent(apiKey),
  },
  {
    name: 'api, keys from SSM (as deployed)',
    entry: 'functions/http/handler.ts',
    expectStatus: 200,
    keys: 'ssm',
    event: (apiKey) => apiEvent(apiKey),
  },
  {
    name: 'docs (functions/http/docs-handler.ts)',
    entry: 'functions/http/docs-handler.ts',
    expectStatus: 200,
    event: () => ({
      version: '2.0',
      routeKey: 'GET /api/docs',
      rawPath: '/api/docs',
      rawQueryString: '',
      headers: { host: 'cold.execute-api.eu-west-1.amazonaws.com' },
      requestContext: {
        accountId: '000000000000',
        apiId: 'cold',
        domainName: 'cold.execute-api.eu-west-1.amazonaws.com',
        domainPrefix: 'cold',
        http: { method: 'GET', path: '/api/docs', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
        requestId: 'cold-start',
        routeKey: 'GET /api/docs',
        stage: '$default',
        time: new Date().toISOString(),
        timeEpoch: Date.now(),
      },
      body: null,
      isBase64Encoded: false,
    }),
  },
  {
    name: 'wsConnect (functions/ws/connect.ts)',
    entry: 'functions/ws/connect.ts',
    expectStatus: 200,
    event: (apiKey) => ({
      requestContext: { connectionId: 'cold-start-connection', routeKey: '$connect', requestId: 'cold-start' },
      queryStringParameters: { apiKey },
      headers: {},
    }),
  },
  {
    name: 'wsDisconnect (functions/ws/disconnect.ts)',
    entry: 'functions/ws/disconnect.ts',
    expectStatus: 200,
    event: () => ({ requestContext: { connectionId: 'cold-start-connection', routeKey: '$disconnect', requestId: 'cold-start' } }),
  },
  {
    name: 'wsMessage (functions/ws/message.ts)',
    entry: 'functions/ws/message.ts',
    expectStatus: 200,
    event: () => ({
      requestContext: { connectionId: 'cold-start-connection', routeKey: 'ping', requestId: 'cold-start' },
      body: JSON.stringify({ action: 'ping' }),
    }),
  },
];

/** Runs in the fresh process: plain JavaScript, so that nothing but Node and the bundle is loaded. */
const runnerSource = `
const started = performance.now();
const module = await import(process.env.BENCH_BUNDLE);
const imported = performance.now();
let status = null;
if (typeof module.handler === 'function') {
  const context = { awsRequestId: 'cold-start', functionName: 'cold-start', getRemainingTimeInMillis: () => 29000 };
  const result = await module.handler(JSON.parse(process.env.BENCH_EVENT), context);
  status = result && typeof result === 'object' ? result.statusCode : null;
}
const answered = performance.now();
process.stdout.write('BENCH_RESULT ' + JSON.stringify({ bootMs: started, importMs: imported - started, invokeMs: answered - imported, status }) + '\\n');
process.exit(0);
`;

interface Run {
  /** Spawn until the answer line, measured by the parent. */
  wallMs: number;
  bootMs: number;
  importMs: number;
  invokeMs: number;
  status: number | null;
}

function runFresh(context: PartContext, runner: string, bundle: string, env: Record<string, string>): Promise<Run> {
  const started = performance.now();
  const child = context.track(
    startProcess({
      name: `fresh node ${path.basename(bundle)}`,
      command: process.execPath,
      args: [runner],
      cwd: path.dirname(runner),
      // Nothing of this process's loaders (tsx) may reach the fresh one.
      env: { ...env, NODE_OPTIONS: '', BENCH_BUNDLE: bundle },
    }),
  );
  let answeredAt: number | undefined;
  child.child.stdout?.on('data', () => {
    if (answeredAt === undefined && child.output().includes('BENCH_RESULT ')) answeredAt = performance.now();
  });
  return (async () => {
    const timer = setTimeout(() => void child.kill(), 30_000);
    await child.exited;
    clearTimeout(timer);
    const line = child
      .output()
      .split('\n')
      .find((candidate) => candidate.startsWith('BENCH_RESULT '));
    if (line === undefined || answeredAt === undefined) throw new Error(`the fresh process gave no answer:\n${child.output().slice(-2_000)}`);
    const parsed = JSON.parse(line.slice('BENCH_RESULT '.length)) as Omit<Run, 'wallMs'>;
    return { ...parsed, wallMs: answeredAt - started };
  })();
}

/** The node_modules packages that weigh most in a bundle, from esbuild's metafile. */
function heaviestPackages(metafile: Metafile, count: number): string {
  const byPackage = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      // Our own code by folder (functions/http, contract, lib, …).
      const parts = input.split('/');
      const name = match?.[1] ?? (parts.length > 2 ? parts.slice(0, 2).join('/') : (parts[0] ?? input));
      byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...byPackage.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, bytes]) => `${name} ${kilobytes(bytes, 0)}`)
    .join(', ');
}

/** The functions' budget (issue 14): bundle size, and first answer against a bare Node start. */
const budgetBytes = 400 * 1024;
const budgetRatio = 2;

runPart(async (context): Promise<PartReport> => {
  const runs = context.smoke ? 1 : 10;
  const work = temporaryDirectory('wa-bench-cold');
  context.onCleanup(() => work.remove());
  // The bundles resolve their externals (@aws-sdk/*) from the project's node_modules, as Lambda does from its runtime.
  symlinkSync(path.join(projectRoot, 'node_modules'), path.join(work.path, 'node_modules'));
  const runner = path.join(work.path, 'runner.mjs');
  writeFileSync(runner, runnerSource);
  const empty = path.join(work.path, 'empty.mjs');
  writeFileSync(empty, 'export {};\n');
  // The same esbuild plugins as serverless.yml's custom.esbuild.plugins (plain JavaScript, loaded as serverless-esbuild does).
  const { plugins, lambdaBuildOptions } = (await import(pathToFileURL(path.join(projectRoot, 'scripts', 'build-esbuild-plugins.mjs')).href)) as {
    plugins: Plugin[];
    lambdaBuildOptions: BuildOptions;
  };

  const redis = await startRedisServer();
  context.onCleanup(() => redis.stop());
  // Where wsMessage's PostToConnection goes: a stand-in for the API Gateway management API that accepts every post.
  const managementPort = await freePort();
  const management = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200).end());
  });
  await new Promise<void>((resolve) => management.listen(managementPort, '127.0.0.1', resolve));
  context.onCleanup(() => new Promise<void>((resolve) => management.close(() => resolve())));
  const apiKey = 'cold-start-key';
  // A stand-in for SSM's GetParameter (the keys of a deployed stage), for the "keys from SSM" row.
  const ssmPort = await freePort();
  const ssm = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify({ Parameter: { Name: '/whatsapp-service/bench/api-keys', Type: 'SecureString', Value: apiKey, Version: 1 } }));
    });
  });
  await new Promise<void>((resolve) => ssm.listen(ssmPort, '127.0.0.1', resolve));
  context.onCleanup(() => new Promise<void>((resolve) => ssm.close(() => resolve())));
  const baseEnv = {
    REDIS_URL: redis.url,
    KEY_PREFIX: 'cold',
    WA_ENGINE: 'simulator',
    API_KEYS: apiKey,
    WS_MANAGEMENT_ENDPOINT: `http://127.0.0.1:${managementPort}`,
    AWS_REGION: 'eu-west-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    NODE_ENV: 'production',
  };

  // Bundle every function first, as serverless.yml's custom.esbuild asks serverless-esbuild to.
  const bundles: Array<{
    fn: FunctionUnderTest;
    bundle: string;
    bytes: number;
    gzipped: number;
    metafile: Metafile;
    /** The AWS SDK packages the bundle imports at its top (not `await import()`), and a module importing only them. */
    sdkAtImport: string[];
    sdkModule: string;
  }> = [];
  for (const fn of functions) {
    context.log(`cold start: bundling ${fn.name}`);
    const outdir = path.join(work.path, path.basename(fn.entry, '.ts') + '-' + path.basename(path.dirname(fn.entry)));
    mkdirSync(outdir, { recursive: true });
    const built = await build({
      ...lambdaBuildOptions,
      entryPoints: [path.join(projectRoot, fn.entry)],
      outdir,
      plugins,
      metafile: true,
    });
    const bundle = path.join(outdir, `${path.basename(fn.entry, '.ts')}.mjs`);
    // What the Lambda runtime loads for the bundle before any of our code runs: its static imports of the AWS SDK.
    const sdkAtImport = [
      ...new Set(
        Object.values(built.metafile.outputs).flatMap((output) =>
          output.imports.filter((imported) => imported.external === true && imported.kind === 'import-statement' && imported.path.startsWith('@aws-sdk/')).map((imported) => imported.path),
        ),
      ),
    ].sort();
    const sdkModule = path.join(outdir, 'sdk-at-import.mjs');
    writeFileSync(sdkModule, sdkAtImport.map((name) => `import '${name}';\n`).join('') || 'export {};\n');
    bundles.push({ fn, bundle, bytes: statSync(bundle).size, gzipped: gzipSync(readFileSync(bundle), { level: 9 }).length, metafile: built.metafile, sdkAtImport, sdkModule });
  }

  // Interleaved: floor, then each function, `runs` times over.
  const floorRuns: Run[] = [];
  const fnRuns = new Map<string, Run[]>(functions.map((fn) => [fn.name, []]));
  const sdkRuns = new Map<string, Run[]>(functions.map((fn) => [fn.name, []]));
  for (let index = 0; index < runs; index += 1) {
    context.log(`cold start: round ${index + 1} of ${runs}`);
    floorRuns.push(await runFresh(context, runner, empty, { ...baseEnv, BENCH_EVENT: '{}' }));
    for (const { fn, bundle, sdkModule } of bundles) {
      // The same fresh process importing only the AWS SDK packages the bundle loads at import: their share of "import ms".
      sdkRuns.get(fn.name)?.push(await runFresh(context, runner, sdkModule, { ...baseEnv, BENCH_EVENT: '{}' }));
      const keys: Record<string, string> =
        fn.keys === 'ssm'
          ? {
              API_KEYS: '',
              API_KEYS_PARAMETER: '/whatsapp-service/bench/api-keys',
              AWS_ENDPOINT_URL_SSM: `http://127.0.0.1:${ssmPort}`,
              AWS_ACCESS_KEY_ID: 'bench',
              AWS_SECRET_ACCESS_KEY: 'bench',
            }
          : {};
      const run = await runFresh(context, runner, bundle, { ...baseEnv, ...keys, BENCH_EVENT: JSON.stringify(fn.event(apiKey)) });
      if (run.status !== fn.expectStatus) throw new Error(`${fn.name} answered ${String(run.status)} on its first invoke`);
      fnRuns.get(fn.name)?.push(run);
    }
  }
  const floorWall = summarize(floorRuns.map((run) => run.wallMs));

  const rows: string[][] = [
    ['floor: empty module', '—', '—', ms(summarize(floorRuns.map((run) => run.bootMs)).p50, 1), ms(summarize(floorRuns.map((run) => run.importMs)).p50, 1), '—', '—', ms(floorWall.p50, 1), ms(floorWall.max, 1), '1.0×', '—'],
  ];
  const results: Array<{ short: string; bytes: number; wall: Summary; heaviest: string; sameBundleAsAnother: boolean; importMs: number; sdkMs: number | null }> = [];
  for (const { fn, bytes, gzipped, metafile, sdkAtImport } of bundles) {
    const measured = fnRuns.get(fn.name) ?? [];
    const wall = summarize(measured.map((run) => run.wallMs));
    const heaviest = heaviestPackages(metafile, 5);
    const importMs = summarize(measured.map((run) => run.importMs)).p50;
    const sdkMs = sdkAtImport.length === 0 ? null : summarize((sdkRuns.get(fn.name) ?? []).map((run) => run.importMs)).p50;
    results.push({ short: fn.name.replace(/ \(.*\)$/, ''), bytes, wall, heaviest, sameBundleAsAnother: fn.keys === 'ssm', importMs, sdkMs });
    rows.push([
      fn.name,
      kilobytes(bytes, 0),
      kilobytes(gzipped, 0),
      ms(summarize(measured.map((run) => run.bootMs)).p50, 1),
      ms(summarize(measured.map((run) => run.importMs)).p50, 1),
      sdkAtImport.length === 0
        ? 'none'
        : `${ms(summarize((sdkRuns.get(fn.name) ?? []).map((run) => run.importMs)).p50, 1)} (${sdkAtImport.map((name) => name.replace('@aws-sdk/', '')).join(', ')})`,
      ms(summarize(measured.map((run) => run.invokeMs)).p50, 1),
      ms(wall.p50, 1),
      ms(wall.max, 1),
      ratio(wall.p50, floorWall.p50),
      heaviest,
    ]);
  }

  const table: Table = {
    title: `Cold start: bundle size, and a fresh Node process from spawn to the first answer (median of ${runs}, interleaved with the floor)`,
    columns: ['function', 'bundle', 'gzip -9', 'Node boot ms', 'import ms', 'of which AWS SDK at import ms (alone)', 'first invoke ms', 'spawn → answer p50 ms', 'max ms', 'p50 / floor', 'heaviest in the bundle'],
    rows,
  };
  type Result = (typeof results)[number];
  // Sizes once per bundle (the SSM row is the api bundle again); times for every row.
  const bundlesOnly = results.filter((result) => !result.sameBundleAsAnother);
  const over = (among: Result[], check: (result: Result) => boolean) => among.filter((result) => !check(result)).map((result) => result.short);
  const sizeOk = (result: Result) => result.bytes <= budgetBytes;
  const timeOk = (result: Result) => result.wall.p50 <= budgetRatio * floorWall.p50;
  const verdictOf = (failing: string[]) => (context.smoke ? null : failing.length === 0);
  const bySize = (short: string) => results.find((result) => result.short === short);
  const targets: TargetCheck[] = [
    {
      target: 'Cold start: each function ≤ 400 KB',
      measured: bundlesOnly
        .map((result) => `${result.short}: ${kilobytes(result.bytes, 0)}${sizeOk(result) ? '' : ' (over)'}`)
        .join('; '),
      met: verdictOf(over(bundlesOnly, sizeOk)),
      limit:
        (over(bundlesOnly, sizeOk).length === 0 ? 'Every function is within 400 KB. ' : `Over 400 KB: ${over(bundlesOnly, sizeOk).join(', ')}. `) +
        `api (${kilobytes(bySize('api')?.bytes ?? 0, 0)}): ${bySize('api')?.heaviest ?? '?'}. It validates and documents with @hono/zod-openapi, ` +
        'which hands out zod\'s whole namespace (no tree-shaking of zod there), plus @asteasolutions/zod-to-openapi; QR codes (qrcode + pngjs, ' +
        'about 55 KB) and pino (about 70 KB with its streams) come on top. ' +
        `docs (${kilobytes(bySize('docs')?.bytes ?? 0, 0)}): Swagger UI itself, about 635 KB of gzip + base64 text that only /api/docs serves, ` +
        'and Hono; as one string literal it costs little to load (see its import ms). The WebSocket functions are ioredis (about 125 KB), zod ' +
        '(about 95 KB, tree-shaken) and pino.',
    },
    {
      target: 'Cold start: first answer ≤ 2× a bare Node start',
      measured:
        results.map((result) => `${result.short}: ${ms(result.wall.p50, 0)} ms, ${ratio(result.wall.p50, floorWall.p50)}`).join('; ') +
        `; bare Node start ${ms(floorWall.p50, 0)} ms`,
      met: verdictOf(over(results, timeOk)),
      limit:
        (over(results, timeOk).length === 0 ? 'Every function answers within 2× a bare Node start. ' : `Over 2×: ${over(results, timeOk).join(', ')}. `) +
        'A first answer is Node boot + import of the bundle + the first invoke. ' +
        (results.some((result) => result.sdkMs !== null && !result.sameBundleAsAnother)
          ? 'Of the import, the AWS SDK packages a bundle imports at its top (they come from the Lambda runtime, not the bundle) took, loaded alone: ' +
            results
              .filter((result) => result.sdkMs !== null && !result.sameBundleAsAnother)
              .map((result) => `${result.short} ${ms(result.sdkMs ?? 0, 0)} of ${ms(result.importMs, 0)} ms`)
              .join(', ') +
            '. '
          : 'No bundle loads the AWS SDK at import: the clients load on first use (lib/connection-poster.ts on the first post, which is ' +
            "wsMessage's first answer to a ping; lib/blob-store-s3.ts on the first media operation). ") +
        "The rest of the import is compiling the bundle and building the contract's zod schemas (api: the whole OpenAPI route table). " +
        'The first invoke opens two Redis connections and waits for them (TCP + ready ' +
        'check; on AWS also TLS to ElastiCache). A deployed stage also loads @aws-sdk/client-ssm and reads the API keys from SSM before ' +
        'the first answer (the "keys from SSM" row, against a local stand-in).',
    },
  ];
  return {
    part: 'cold-start',
    title: 'Cold start',
    method: [
      'Cold start: each function bundled with esbuild exactly as `serverless.yml` asks serverless-esbuild to (bundle, ' +
        'node platform, ESM, target node22, `@aws-sdk/*` external as the Lambda runtime ships it, minified, no source ' +
        'map, the plugins of scripts/build-esbuild-plugins.mjs); one bundle per function, as `package.individually` zips ' +
        'them; size of the .mjs and its gzip -9 size as a rough zip size. Then, per run, a fresh `node` process ' +
        'imports the bundle and invokes the handler once (api: `GET /api/sessions`, with the keys in API_KEYS as on the local ' +
        'stage, and again with API_KEYS_PARAMETER as on a deployed stage, answered by a local stand-in for SSM; docs: `GET /api/docs`; wsConnect: a ' +
        '`$connect` with the key; wsDisconnect: `$disconnect`; wsMessage: a `ping`, answered by PostToConnection to a local ' +
        'stub of the management API) against a real Redis on loopback. "Node boot" is `performance.now()` at the first ' +
        'line of the runner; "spawn → answer" is measured by the parent until the answer line arrives. The floor is the ' +
        'same runner importing an empty module; the runs go floor, each function, floor, … so load changes hit all alike. ' +
        'Lambda adds its own init (runtime, network) on top of all of this.',
    ],
    tables: [table],
    targets,
    notes: [],
  };
});
