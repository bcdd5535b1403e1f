/**
 * A deployed stage, as far as it can be proven without an AWS account: `serverless package --stage prod` with dummy
 * credentials and no network, then (a) cfn-lint on the template, (b) what the template holds and must not hold, and
 * (c) one zip per function (`package.individually`), each holding its own bundle and nothing else, and (d) the
 * packaged functions themselves, each unzipped from its own zip, run in plain `node` against a real redis-server, a
 * session host and stand-ins for SSM and the API Gateway management API, with hand-made API Gateway events.
 */
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../../contract/redis-keys.js';
import { apiRoutes } from '../../functions/http/api-routes.js';
import { projectRoot, temporaryDirectory, type ManagedProcess } from '../../scripts/support/processes.js';
import { startSessionHost } from '../../scripts/support/stack.js';
import { useRedisServer } from '../support/redis.js';

/** Put into the packaging shell: it must appear nowhere in what is packaged. */
const shellKey = 'canary-shell-key-5f0c1d';
/** CloudFormation's own placeholders, as the template must hold them. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string, not a JS template
const managementSub = 'https://${WebsocketsApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/prod';
// biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string, not a JS template
const websocketsApiSub = '${WebsocketsApi}/prod/';
/** What the stand-in SSM holds. */
const ssmKeys = ['ssm-key-one-91a7', 'ssm-key-two-3b52'];

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, read loosely
type Json = Record<string, any>;

const cfnLint = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
const hasCfnLint = cfnLint.status === 0;
if (!hasCfnLint) process.stderr.write('cfn-lint is not installed: the template lint is SKIPPED (pip install cfn-lint)\n');

describe('deployed stage, packaged offline', () => {
  const redis = useRedisServer();
  let work: { path: string; remove(): void };
  let outDir: string;
  let template: Json;
  let templateText: string;
  let stateText: string;
  let packageSeconds = 0;

  beforeAll(() => {
    // A copy of the service of its own (node_modules linked): packaging rewrites .esbuild/ and .serverless/, which
    // the serverless offline of other test files uses at the same time.
    work = temporaryDirectory('wa-package');
    const service = path.join(work.path, 'service');
    const skip = new Set(['node_modules', '.git', '.local', '.esbuild', '.serverless', 'data', 'test', 'bench', 'coverage']);
    mkdirSync(service);
    for (const entry of readdirSync(projectRoot)) {
      if (!skip.has(entry)) cpSync(path.join(projectRoot, entry), path.join(service, entry), { recursive: true });
    }
    symlinkSync(path.join(projectRoot, 'node_modules'), path.join(service, 'node_modules'));
    outDir = path.join(work.path, 'out');
    const started = performance.now();
    const result = spawnSync(
      path.join(projectRoot, 'node_modules', '.bin', 'serverless'),
      ['package', '--stage', 'prod', '--region', 'eu-west-1', '--package', outDir],
      {
        cwd: service,
        encoding: 'utf8',
        timeout: 150_000,
        env: {
          PATH: process.env.PATH,
          HOME: work.path,
          SLS_TELEMETRY_DISABLED: '1',
          SLS_NOTIFICATIONS_MODE: 'off',
          AWS_ACCESS_KEY_ID: 'x',
          AWS_SECRET_ACCESS_KEY: 'x',
          AWS_REGION: 'eu-west-1',
          // Any AWS call would go nowhere: packaging must need none (no ${ssm:...}, no CloudFormation look-up).
          AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
          // What a developer's shell may hold: none of it may reach a deployed stage.
          API_KEYS: shellKey,
          REDIS_URL: 'redis://127.0.0.1:6379',
          WS_MANAGEMENT_ENDPOINT: 'http://127.0.0.1:3001',
        },
      },
    );
    packageSeconds = (performance.now() - started) / 1000;
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    templateText = readFileSync(path.join(outDir, 'cloudformation-template-update-stack.json'), 'utf8');
    stateText = readFileSync(path.join(outDir, 'serverless-state.json'), 'utf8');
    template = JSON.parse(templateText) as Json;
  });
  afterAll(() => work?.remove());

  const resources = (type: string): [string, Json][] =>
    Object.entries(template.Resources as Json).filter(([, resource]) => (resource as Json).Type === type) as [string, Json][];
  const one = (type: string): Json => {
    const found = resources(type);
    expect(found, type).toHaveLength(1);
    return found[0]![1].Properties as Json;
  };

  it.skipIf(!hasCfnLint)('passes cfn-lint with no error', () => {
    const lint = spawnSync('cfn-lint', ['--format', 'parseable', path.join(outDir, 'cloudformation-template-update-stack.json')], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const errors = lint.stdout.split('\n').filter((line) => /:E\d{4}:/.test(line));
    expect(errors, lint.stdout + lint.stderr).toEqual([]);
    expect([0, 4], `cfn-lint exit ${lint.status}: ${lint.stderr}`).toContain(lint.status); // 4: warnings only
    process.stdout.write(`serverless package --stage prod took ${packageSeconds.toFixed(1)} s\n`);
  });

  it('holds the whole stack: VPC with NAT, security groups, Redis, EFS, ECR, ECS, media bucket', () => {
    for (const type of [
      'AWS::EC2::VPC',
      'AWS::EC2::NatGateway',
      'AWS::EC2::InternetGateway',
      'AWS::ElastiCache::ReplicationGroup',
      'AWS::ElastiCache::SubnetGroup',
      'AWS::EFS::FileSystem',
      'AWS::EFS::AccessPoint',
      'AWS::ECR::Repository',
      'AWS::ECS::Cluster',
      'AWS::ECS::TaskDefinition',
      'AWS::ECS::Service',
      'AWS::S3::Bucket',
    ]) {
      expect(resources(type).length, type).toBeGreaterThan(0);
    }
    expect(resources('AWS::EC2::Subnet').filter(([name]) => name.startsWith('Private'))).toHaveLength(2);
    expect(resources('AWS::EC2::SecurityGroup').length).toBeGreaterThanOrEqual(4);

    const redisGroup = one('AWS::ElastiCache::ReplicationGroup');
    expect(redisGroup).toMatchObject({ TransitEncryptionEnabled: true, AtRestEncryptionEnabled: true });
    expect(redisGroup.NumNodeGroups, 'cluster mode is not supported yet').toBeUndefined();
    expect(one('AWS::ElastiCache::ParameterGroup').Properties).toMatchObject({ 'maxmemory-policy': 'noeviction' });

    // The access point writes as the image's app user.
    const dockerfile = readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');
    const uid = /useradd --uid (\d+)/.exec(dockerfile)?.[1];
    const gid = /groupadd --gid (\d+)/.exec(dockerfile)?.[1];
    expect(one('AWS::EFS::AccessPoint').PosixUser).toEqual({ Uid: uid, Gid: gid });

    const lifecycle = template.Resources.MediaBucket.Properties.LifecycleConfiguration.Rules as Json[];
    expect(lifecycle.some((rule) => rule.Status === 'Enabled' && rule.ExpirationInDays !== undefined)).toBe(true);

    const taskDefinition = one('AWS::ECS::TaskDefinition');
    const container = taskDefinition.ContainerDefinitions[0] as Json;
    expect(container.HealthCheck.Command).toContain('CMD');
    const environment = Object.fromEntries((container.Environment as Json[]).map((entry) => [entry.Name, entry.Value]));
    expect(container.StopTimeout * 1000).toBeGreaterThan(Number(environment.SHUTDOWN_TIMEOUT_MS));
    expect(environment.REDIS_URL['Fn::Sub']).toMatch(/^rediss:\/\/\$\{RedisReplicationGroup\.PrimaryEndPoint\.Address\}/);
    expect(environment.WS_MANAGEMENT_ENDPOINT['Fn::Sub']).toBe(managementSub);
    expect(taskDefinition.Volumes[0].EFSVolumeConfiguration.AuthorizationConfig.AccessPointId).toEqual({ Ref: 'SessionsAccessPoint' });

    // The hosts may post to this stack's WebSocket API only.
    const [, taskRole] = resources('AWS::IAM::Role').find(([name]) => name === 'SessionHostTaskRole')!;
    const taskStatements = (taskRole.Properties.Policies as Json[]).flatMap((policy) => policy.PolicyDocument.Statement as Json[]);
    const manage = taskStatements.find((statement) => statement.Action === 'execute-api:ManageConnections')!;
    expect(manage.Resource['Fn::Sub']).toMatch(/:\$\{WebsocketsApi\}\/prod\/\*\/@connections\/\*$/);

    // The functions: this API's connections, the keys' parameter and its decryption, nothing broader.
    const lambdaStatements = (template.Resources.IamRoleLambdaExecution.Properties.Policies as Json[]).flatMap(
      (policy) => policy.PolicyDocument.Statement as Json[],
    );
    const actions = (statement: Json) => [statement.Action].flat() as string[];
    const getParameter = lambdaStatements.find((statement) => actions(statement).includes('ssm:GetParameter'))!;
    expect(JSON.stringify(getParameter.Resource)).toContain(':parameter/whatsapp-service/prod/api-keys');
    const decrypt = lambdaStatements.find((statement) => actions(statement).includes('kms:Decrypt'))!;
    expect(JSON.stringify(decrypt.Condition)).toContain('kms:ViaService');
    const lambdaManage = lambdaStatements.find((statement) => actions(statement).includes('execute-api:ManageConnections'))!;
    expect(JSON.stringify(lambdaManage.Resource)).toContain(websocketsApiSub);
  });

  it('puts every function in the VPC, with endpoints from the stack and no keys', () => {
    const functions = resources('AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThanOrEqual(4);
    for (const [name, fn] of functions) {
      const properties = fn.Properties as Json;
      expect(properties.VpcConfig?.SubnetIds, name).toEqual([{ Ref: 'PrivateSubnetA' }, { Ref: 'PrivateSubnetB' }]);
      expect(properties.VpcConfig?.SecurityGroupIds, name).toEqual([{ Ref: 'FunctionSecurityGroup' }]);
      expect(properties.Runtime).toBe('nodejs22.x');
      const variables = properties.Environment.Variables as Json;
      expect(variables.API_KEYS, name).toBeUndefined();
      expect(variables.API_KEYS_PARAMETER).toBe('/whatsapp-service/prod/api-keys');
      expect(variables.REDIS_URL['Fn::Sub']).toMatch(/^rediss:\/\//);
      expect(variables.WS_MANAGEMENT_ENDPOINT['Fn::Sub']).toBe(managementSub);
      expect(JSON.stringify(variables)).not.toMatch(/127\.0\.0\.1|localhost/);
    }
  });

  it('holds no key material and no loopback endpoint, in the template or the state file', () => {
    for (const [name, text] of [
      ['template', templateText],
      ['state', stateText],
    ] as const) {
      expect(text, name).not.toContain(shellKey);
      for (const key of ssmKeys) expect(text, name).not.toContain(key);
      expect(text, name).not.toMatch(/127\.0\.0\.1:(6379|3001)|localhost/);
    }
    // The one loopback address left is the task's health check, which runs inside the container.
    const loopback = templateText.split('\n').filter((line) => line.includes('127.0.0.1'));
    for (const line of loopback) expect(line).toContain("fetch('http://127.0.0.1:8080/health')");
  });

  /** Each function of the template with its zip (serverless-esbuild names it after the function) and its handler file. */
  const packagedFunctions = () =>
    resources('AWS::Lambda::Function').map(([name, fn]) => {
      const properties = fn.Properties as Json;
      const zip = path.basename(properties.Code.S3Key as string);
      const handler = properties.Handler as string; // functions/http/handler.handler
      return { name, zip, handlerFile: `${handler.slice(0, handler.lastIndexOf('.'))}.mjs` };
    });
  const zipEntries = (zip: string): string[] => {
    const listed = spawnSync('unzip', ['-Z1', path.join(outDir, zip)], { encoding: 'utf8' });
    expect(listed.status, listed.stderr).toBe(0);
    return listed.stdout.split('\n').filter((line) => line !== '');
  };
  const unzipped = (zip: string, file: string): string => {
    const read = spawnSync('unzip', ['-p', path.join(outDir, zip), file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(read.status, read.stderr).toBe(0);
    return read.stdout;
  };

  it('packages each function in a zip of its own that holds its handler and nothing else, with no source map', () => {
    const functions = packagedFunctions();
    expect(functions.map((fn) => fn.name).sort()).toEqual([
      'ApiLambdaFunction',
      'DocsLambdaFunction',
      'WsConnectLambdaFunction',
      'WsDisconnectLambdaFunction',
      'WsMessageLambdaFunction',
    ]);
    expect(new Set(functions.map((fn) => fn.zip)).size, 'one zip per function').toBe(functions.length);
    const sizes: string[] = [];
    for (const fn of functions) {
      const entries = zipEntries(fn.zip);
      // No source map (serverless.yml: sourcemap false, on purpose) and no other function's bundle.
      expect(entries, fn.name).toEqual([fn.handlerFile]);
      const bundleBytes = Buffer.byteLength(unzipped(fn.zip, fn.handlerFile));
      sizes.push(`${fn.name}: zip ${(statSync(path.join(outDir, fn.zip)).size / 1024).toFixed(0)} KB, bundle ${(bundleBytes / 1024).toFixed(0)} KB`);
    }
    process.stdout.write(`per-function packages (serverless package took ${packageSeconds.toFixed(1)} s):\n  ${sizes.join('\n  ')}\n`);
  });

  it('keeps Swagger UI in the docs function and the OpenAPI generator in the api function only', () => {
    const bundleOf = (name: string) => {
      const fn = packagedFunctions().find((candidate) => candidate.name === name)!;
      return unzipped(fn.zip, fn.handlerFile);
    };
    // Swagger UI's assets are gzip + base64 text (functions/http/docs/swagger-ui-assets.generated.ts): "H4sI…".
    const swaggerUi = /"H4sIA{4}/;
    expect(bundleOf('DocsLambdaFunction')).toMatch(swaggerUi);
    expect(bundleOf('ApiLambdaFunction')).not.toMatch(swaggerUi);
    // An error message of @asteasolutions/zod-to-openapi (under @hono/zod-openapi): only the REST API builds a document.
    const openApiGenerator = 'Unknown zod object type';
    expect(bundleOf('ApiLambdaFunction')).toContain(openApiGenerator);
    for (const name of ['DocsLambdaFunction', 'WsConnectLambdaFunction', 'WsDisconnectLambdaFunction', 'WsMessageLambdaFunction']) {
      expect(bundleOf(name), name).not.toContain(openApiGenerator);
    }
    // API Gateway sends the docs page's declared paths (api-routes.ts) to the docs function, everything else to api.
    const routes = resources('AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties as Json);
    const httpTargetOf = (routeKey: string) =>
      routes
        .filter((route) => route.RouteKey === routeKey && JSON.stringify(route.ApiId) === '{"Ref":"HttpApi"}')
        .map((route) => JSON.stringify(route.Target));
    for (const route of [apiRoutes.docsPage, apiRoutes.docsScript, apiRoutes.docsStyle]) {
      expect(httpTargetOf(`GET ${route.path}`), route.path).toEqual([expect.stringContaining('"HttpApiIntegrationDocs"')]);
    }
    expect(httpTargetOf('$default')).toEqual([expect.stringContaining('"HttpApiIntegrationApi"')]);
  });

  describe('the packaged functions in plain node', () => {
    let lambdaDir: string;
    let ssm: Server;
    let management: Server;
    let host: ManagedProcess | undefined;
    const ssmRequests: Json[] = [];
    const posts: { path: string; body: string }[] = [];

    const listen = async (server: Server) => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    };
    const bodyOf = async (request: IncomingMessage) => {
      let body = '';
      for await (const chunk of request) body += String(chunk);
      return body;
    };

    beforeAll(async () => {
      // Each function's artifact as Lambda would get it, in a directory of its own (lambda/<zip name>/); the AWS SDK
      // comes from "the runtime" (the project's node_modules/@aws-sdk, found from every function's directory).
      lambdaDir = path.join(work.path, 'lambda');
      mkdirSync(path.join(lambdaDir, 'node_modules'), { recursive: true });
      for (const zip of readdirSync(outDir).filter((file) => file.endsWith('.zip'))) {
        const unzip = spawnSync('unzip', ['-q', path.join(outDir, zip), '-d', path.join(lambdaDir, path.basename(zip, '.zip'))], { encoding: 'utf8' });
        expect(unzip.status, unzip.stderr).toBe(0);
      }
      symlinkSync(path.join(projectRoot, 'node_modules', '@aws-sdk'), path.join(lambdaDir, 'node_modules', '@aws-sdk'));

      ssm = createServer((request, response) => {
        void bodyOf(request).then((body) => {
          ssmRequests.push({ target: request.headers['x-amz-target'], ...(JSON.parse(body) as Json) });
          response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
          response.end(JSON.stringify({ Parameter: { Name: '/whatsapp-service/prod/api-keys', Type: 'SecureString', Value: ssmKeys.join(','), Version: 1 } }));
        });
      });
      management = createServer((request, response) => {
        void bodyOf(request).then((body) => {
          posts.push({ path: `${request.method} ${request.url}`, body });
          response.writeHead(200).end();
        });
      });
    });
    afterAll(async () => {
      await host?.stop(5_000);
      ssm?.close();
      management?.close();
    });

    it('answer health, create a session through a live host, and accept a WebSocket $connect with an SSM key', async () => {
      const ssmUrl = await listen(ssm);
      const managementUrl = `${await listen(management)}/prod`;
      const api = template.Resources.ApiLambdaFunction.Properties as Json;
      const variables = api.Environment.Variables as Json;
      const keyPrefix = variables.KEY_PREFIX as string;
      host = await startSessionHost({
        redisUrl: redis.server().url,
        keyPrefix,
        engine: 'simulator',
        hostId: 'package-test-host',
        dataDir: temporaryDirectory('wa-package-data').path,
        wsManagementEndpoint: managementUrl,
      });
      // The template's environment, with the stack's resources replaced by their local stand-ins.
      const env: Record<string, string> = {};
      for (const [name, value] of Object.entries(variables)) if (typeof value === 'string') env[name] = value;
      Object.assign(env, {
        REDIS_URL: redis.server().url, // the stack's is rediss:// (ElastiCache, TLS); this redis-server has no TLS
        WS_MANAGEMENT_ENDPOINT: managementUrl,
        MEDIA_BUCKET: 'media',
        WA_ENGINE: 'simulator', // the stage's engine is webjs (Chromium); the host here runs the simulator
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'x',
        AWS_SECRET_ACCESS_KEY: 'x',
        AWS_ENDPOINT_URL_SSM: ssmUrl,
        PATH: process.env.PATH ?? '',
      });
      writeFileSync(path.join(lambdaDir, 'invoke.mjs'), invokeScript);
      // Not spawnSync: the stand-ins for SSM and the management API answer from this process's event loop.
      const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, ['invoke.mjs', ssmKeys[1]!], { cwd: lambdaDir, env, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) =>
          resolve({ status: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
        );
      });
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
      const line = run.stdout.split('\n').find((candidate) => candidate.startsWith('RESULTS '));
      expect(line, run.stdout + run.stderr).toBeDefined();
      const results = JSON.parse(line!.slice('RESULTS '.length)) as Json;

      expect(results.health).toMatchObject({ statusCode: 200 });
      expect(JSON.parse(results.health.body)).toEqual({ status: 'ok' });
      expect(results.listWithoutKey.statusCode).toBe(401);
      expect(results.create.statusCode, results.create.body).toBe(201);
      expect(JSON.parse(results.create.body)).toMatchObject({ session: { id: 'packaged', engine: 'simulator' } });
      expect(results.get.statusCode).toBe(200);
      expect(results.connectWrongKey.statusCode).toBe(401);
      expect(results.connect.statusCode).toBe(200);
      expect(results.ping.statusCode).toBe(200);
      // The api function still documents the docs page; the docs function serves it, its script and its style.
      expect(results.openapi.statusCode).toBe(200);
      expect(results.openapiPaths).toEqual(expect.arrayContaining([apiRoutes.docsPage.path, apiRoutes.docsScript.path, apiRoutes.docsStyle.path]));
      expect(results.docsPage).toMatchObject({ statusCode: 200, type: expect.stringMatching(/^text\/html/) });
      expect(results.docsScript).toMatchObject({ statusCode: 200, type: expect.stringMatching(/^text\/javascript/) });
      expect(results.docsScript.length).toBeGreaterThan(1_000_000);
      expect(results.docsStyle).toMatchObject({ statusCode: 200, type: expect.stringMatching(/^text\/css/) });
      expect(results.docsOther.statusCode).toBe(404);

      // One GetParameter per cold start per handler module, decrypted, for the template's parameter.
      expect(ssmRequests.length).toBeGreaterThan(0);
      for (const request of ssmRequests) {
        expect(request).toMatchObject({ target: 'AmazonSSM.GetParameter', Name: '/whatsapp-service/prod/api-keys', WithDecryption: true });
      }
      const client = new Redis(redis.server().url);
      try {
        expect(await client.exists(redisKeys(keyPrefix).wsConnection('conn-packaged'))).toBe(1);
      } finally {
        client.disconnect();
      }
      // The pong went to the management endpoint, under the stage, for that connection.
      expect(posts).toContainEqual({ path: 'POST /prod/@connections/conn-packaged', body: '{"event":"pong"}' });
    });
  });
});

/** Imports the unzipped handlers and invokes them with API Gateway events; prints the results as one line, `RESULTS {...}` (the handlers log JSON lines to stdout too). */
const invokeScript = String.raw`
const key = process.argv[2];
const http = await import('./api/functions/http/handler.mjs');
const docs = await import('./docs/functions/http/docs-handler.mjs');
const connect = await import('./wsConnect/functions/ws/connect.mjs');
const message = await import('./wsMessage/functions/ws/message.mjs');
let n = 0;
const context = () => ({ awsRequestId: 'req-' + ++n, functionName: 'api', getRemainingTimeInMillis: () => 29000 });
const httpEvent = (method, rawPath, { body, headers = {} } = {}) => ({
  version: '2.0', routeKey: '$default', rawPath, rawQueryString: '',
  headers: { host: 'abc123.execute-api.eu-west-1.amazonaws.com', ...headers },
  requestContext: {
    accountId: '123456789012', apiId: 'abc123', domainName: 'abc123.execute-api.eu-west-1.amazonaws.com', domainPrefix: 'abc123',
    http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'package-test' },
    requestId: 'req-' + n, routeKey: '$default', stage: '$default', time: new Date().toISOString(), timeEpoch: Date.now(),
  },
  body: body === undefined ? undefined : JSON.stringify(body), isBase64Encoded: false,
});
const wsEvent = (routeKey, { query, body } = {}) => ({
  requestContext: { routeKey, connectionId: 'conn-packaged', requestId: 'ws-' + ++n, eventType: routeKey === '$connect' ? 'CONNECT' : 'MESSAGE', stage: 'prod', apiId: 'ws123', domainName: 'ws123.execute-api.eu-west-1.amazonaws.com' },
  headers: {}, queryStringParameters: query ?? null, body: body === undefined ? undefined : JSON.stringify(body), isBase64Encoded: false,
});
const json = { 'content-type': 'application/json', 'x-api-key': key };
const results = {};
results.health = await http.handler(httpEvent('GET', '/api/health'), context());
results.listWithoutKey = await http.handler(httpEvent('GET', '/api/sessions'), context());
results.create = await http.handler(httpEvent('POST', '/api/sessions', { body: { sessionId: 'packaged' }, headers: json }), context());
results.get = await http.handler(httpEvent('GET', '/api/sessions/packaged', { headers: { 'x-api-key': key } }), context());
results.connectWrongKey = await connect.handler(wsEvent('$connect', { query: { apiKey: 'wrong' } }), context());
results.connect = await connect.handler(wsEvent('$connect', { query: { apiKey: key } }), context());
results.ping = await message.handler(wsEvent('ping', { body: { action: 'ping' } }), context());
results.openapi = await http.handler(httpEvent('GET', '/api/openapi.json'), context());
results.openapiPaths = Object.keys(JSON.parse(results.openapi.body).paths);
delete results.openapi.body;
const served = (result) => ({ statusCode: result.statusCode, type: result.headers?.['content-type'], length: (result.body ?? '').length });
results.docsPage = served(await docs.handler(httpEvent('GET', '/api/docs'), context()));
results.docsScript = served(await docs.handler(httpEvent('GET', '/api/docs/swagger-ui-bundle.js'), context()));
results.docsStyle = served(await docs.handler(httpEvent('GET', '/api/docs/swagger-ui.css'), context()));
results.docsOther = served(await docs.handler(httpEvent('GET', '/api/docs/other.js'), context()));
process.stdout.write('RESULTS ' + JSON.stringify(results) + '\n');
process.exit(0);
`;
