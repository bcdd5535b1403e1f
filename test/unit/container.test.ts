/**
 * What can be checked of the session host's image without a Docker engine (none runs on these machines): its stages
 * and user, that its build stage copies every source file the bundle is made of, and that the bundle it runs — made by
 * the same script, laid out as in the image (dist/main.mjs beside node_modules) — starts under plain `node` against
 * a real redis-server, answers its health check and stops cleanly on SIGTERM.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, projectRoot, startProcess, temporaryDirectory, waitForOutput } from '../../scripts/support/processes.js';
import { useRedisServer } from '../support/redis.js';

const dockerfile = readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');
const dockerignore = readFileSync(path.join(projectRoot, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim());
const packageJson = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  scripts: Record<string, string>;
};

/** The Dockerfile's stages, by name (the last one, unnamed, is `runtime`). */
function stages(): Map<string, string> {
  const result = new Map<string, string>();
  const parts = dockerfile.split(/^(?=FROM )/m).filter((part) => part.startsWith('FROM '));
  for (const part of parts) result.set(/^FROM \S+ AS (\S+)/.exec(part)?.[1] ?? 'runtime', part);
  return result;
}

interface Metafile {
  inputs: Record<string, unknown>;
  outputs: Record<string, { imports: { path: string; external?: boolean }[] }>;
}

describe('session host container', () => {
  const redis = useRedisServer();
  let app: { path: string; remove(): void };
  let metafile: Metafile;

  beforeAll(() => {
    // The image's layout: /app/dist/main.mjs next to /app/node_modules (here: the project's own).
    app = temporaryDirectory('wa-image');
    mkdirSync(path.join(app.path, 'dist'));
    symlinkSync(path.join(projectRoot, 'node_modules'), path.join(app.path, 'node_modules'));
    const metafilePath = path.join(app.path, 'meta.json');
    const built = spawnSync(
      process.execPath,
      ['scripts/build-session-host.mjs', '--outdir', path.join(app.path, 'dist'), '--metafile', metafilePath],
      { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 },
    );
    expect(built.status, `${built.stdout}${built.stderr}`).toBe(0);
    metafile = JSON.parse(readFileSync(metafilePath, 'utf8')) as Metafile;
  });
  afterAll(() => app?.remove());

  it('runs the bundle with plain node on Node 22, under tini, as a pinned non-root user', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(cmd).toBeDefined();
    expect(JSON.parse(cmd!)).toEqual(['node', '--enable-source-maps', 'dist/main.mjs']);
    expect(dockerfile).not.toMatch(/tsx/);
    for (const stage of stages().values()) expect(stage).toMatch(/^FROM node:22-bookworm-slim\b/);
    expect([...stages().keys()]).toEqual(['build', 'deps', 'runtime']);
    const runtime = stages().get('runtime')!;
    expect(runtime).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
    expect(runtime).toMatch(/groupadd --gid 10001 app/);
    expect(runtime).toMatch(/useradd --uid 10001 --gid app/);
    expect(runtime).toMatch(/^USER app$/m);
    expect(runtime).toMatch(/^HEALTHCHECK /m);
    expect(runtime).toMatch(/PUPPETEER_SKIP_DOWNLOAD=true/);
    expect(runtime).toMatch(/\bchromium\b/);
    expect(runtime).toMatch(/^VOLUME \["\/data\/sessions"\]$/m);
    // The runtime stage takes no source and no dev dependency: the bundle and the production node_modules only.
    expect(runtime).not.toMatch(/^COPY (?!--from=)/m);
    expect(runtime).toMatch(/^COPY --from=deps \/app\/node_modules \.\/node_modules$/m);
    expect(runtime).toMatch(/^COPY --from=build \/build\/dist \.\/dist$/m);
    expect(stages().get('deps')).toMatch(/npm ci --omit=dev/);
    expect(packageJson.scripts['build:session-host']).toMatch(/scripts\/build-session-host\.mjs/);
  });

  it('keeps keys, data and bulk out of the build context', () => {
    for (const entry of ['.git', 'node_modules', '.local', 'data', 'test', 'bench', '.serverless', '.esbuild', '.env']) {
      expect(dockerignore, `${entry} is not in .dockerignore`).toContain(entry);
    }
  });

  it('copies every source file of the bundle into the build stage, and leaves external only production dependencies', () => {
    const build = stages().get('build')!;
    const copied = [...build.matchAll(/^COPY (\S+) \.\/\S*$/gm)].map((match) => match[1]!);
    const sources = Object.keys(metafile.inputs).filter((input) => !input.startsWith('node_modules/'));
    expect(sources.length).toBeGreaterThan(10);
    for (const source of sources) {
      expect(copied.some((folder) => source.startsWith(`${folder}/`)), `${source} is not copied into the image`).toBe(true);
    }
    const externals = new Set(
      Object.values(metafile.outputs)
        .flatMap((output) => output.imports)
        .filter((entry) => entry.external === true && !entry.path.startsWith('node:') && !builtinModules.includes(entry.path))
        .map((entry) => entry.path),
    );
    expect([...externals]).toContain('whatsapp-web.js');
    for (const external of externals) {
      const name = external.startsWith('@') ? external.split('/').slice(0, 2).join('/') : external.split('/')[0]!;
      expect(packageJson.dependencies, `${external} is external but not a production dependency`).toHaveProperty([name]);
    }
  });

  it('starts from the bundle with plain node against a real Redis, answers /health, and stops on SIGTERM', async () => {
    const healthPort = await freePort();
    const data = temporaryDirectory('wa-image-data');
    const host = startProcess({
      name: 'session-host:bundle',
      command: process.execPath,
      args: ['--enable-source-maps', 'dist/main.mjs'],
      cwd: app.path,
      env: {
        REDIS_URL: redis.server().url,
        KEY_PREFIX: `t${healthPort}`,
        WA_ENGINE: 'simulator',
        HOST_ID: `bundle-${healthPort}`,
        DATA_DIR: data.path,
        HEALTH_PORT: String(healthPort),
        // Loopback, the operator's own: the details (engine, host id) are asked for (issue 15).
        HEALTH_DETAILS: 'true',
        HEALTH_HOST: '127.0.0.1',
        WS_MANAGEMENT_ENDPOINT: 'http://127.0.0.1:9',
        SHUTDOWN_TIMEOUT_MS: '5000',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
    });
    try {
      await waitForOutput(host, /session host ready/, 30_000);
      const response = await fetch(`http://127.0.0.1:${healthPort}/health`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'ok', engine: 'simulator' });
      const exit = await host.stop(10_000);
      expect(exit, host.output()).toEqual({ code: 0, signal: null });
      expect(host.output()).toMatch(/"msg":"stopped"/);
    } finally {
      await host.kill();
      data.remove();
    }
  });
});
