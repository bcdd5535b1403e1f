/**
 * The esbuild plugins of the Lambda bundles (scripts/build-esbuild-plugins.mjs, named by serverless.yml): they must
 * keep cutting zod (a zod upgrade that moves a file would make them silently do nothing), they must not change what a
 * schema answers, and the WebSocket functions stay within the 400 KB budget of issue 14 and carry no OpenAPI code.
 * Sizes only, never a time.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionIdSchema } from '../../contract/api.js';
import { clientActionSchema } from '../../contract/events.js';
import { projectRoot, temporaryDirectory } from '../../scripts/support/processes.js';

/** serverless.yml's custom.esbuild, as serverless-esbuild hands it to esbuild (scripts/build-esbuild-plugins.mjs). */
let lambdaOptions: BuildOptions;
let plugins: Plugin[];
let work: { path: string; remove(): void };

beforeAll(async () => {
  ({ plugins, lambdaBuildOptions: lambdaOptions } = (await import(pathToFileURL(path.join(projectRoot, 'scripts', 'build-esbuild-plugins.mjs')).href)) as {
    plugins: Plugin[];
    lambdaBuildOptions: BuildOptions;
  });
  work = temporaryDirectory('wa-esbuild-plugins');
  symlinkSync(path.join(projectRoot, 'node_modules'), path.join(work.path, 'node_modules'));
});
afterAll(() => work?.remove());

async function bundle(entry: string, withPlugins = true): Promise<{ bytes: number; metafile: Metafile }> {
  const result = await build({
    ...lambdaOptions,
    entryPoints: [path.join(projectRoot, entry)],
    write: false,
    outdir: path.join(work.path, 'out'),
    metafile: true,
    plugins: withPlugins ? plugins : [],
  });
  return { bytes: result.outputFiles.reduce((sum, file) => sum + file.contents.byteLength, 0), metafile: result.metafile };
}

function bytesFrom(metafile: Metafile, pattern: RegExp): number {
  let total = 0;
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) if (pattern.test(input)) total += bytesInOutput;
  }
  return total;
}

describe('the Lambda bundles with the esbuild plugins', () => {
  it.each(['functions/ws/connect.ts', 'functions/ws/disconnect.ts', 'functions/ws/message.ts'])(
    '%s: within 400 KB, zod tree-shaken and English only, no OpenAPI code',
    async (entry) => {
      const { bytes, metafile } = await bundle(entry);
      const inputs = Object.keys(metafile.inputs);
      // Only English, and the plugin's own stand-in for locales/index.js (namespace `zod-english-only:`).
      expect(inputs.filter((input) => /zod\/v4\/locales\/(?!en\.js$)/.test(input) && !input.startsWith('zod-english-only:'))).toEqual([]);
      expect(inputs.filter((input) => input.startsWith('zod-english-only:'))).toHaveLength(1);
      expect(inputs.filter((input) => /@hono\/zod-openapi|@asteasolutions\/zod-to-openapi/.test(input))).toEqual([]);
      // The whole of classic zod without its locales is about 188 KB minified; what validation reaches, about 96 KB.
      expect(bytesFrom(metafile, /node_modules\/zod\//)).toBeLessThan(150 * 1024);
      expect(bytes, `${entry}: ${(bytes / 1024).toFixed(0)} KB`).toBeLessThanOrEqual(400 * 1024);
    },
  );

  it('cut the same bundle by hundreds of KB against esbuild alone', async () => {
    const [cut, plain] = await Promise.all([bundle('functions/ws/connect.ts'), bundle('functions/ws/connect.ts', false)]);
    expect(plain.bytes - cut.bytes).toBeGreaterThan(250 * 1024);
  });

  it('leave what the schemas answer unchanged: a bundle parses as the source does', async () => {
    const probes = {
      goodSession: sessionIdSchema.safeParse('alice'),
      badSession: sessionIdSchema.safeParse('a b'),
      goodAction: clientActionSchema.safeParse({ action: 'subscribe', sessionId: 'alice' }),
      unknownAction: clientActionSchema.safeParse({ action: 'nope' }),
      extraField: clientActionSchema.safeParse({ action: 'ping', extra: 1 }),
      wrongType: clientActionSchema.safeParse({ action: 'subscribe', sessionId: 42 }),
    };
    const expected = JSON.parse(JSON.stringify(probes, (_key, value: unknown) => (value instanceof Error ? { issues: (value as { issues?: unknown }).issues } : value)));

    const source = path.join(work.path, 'probe.ts');
    writeFileSync(
      source,
      [
        `import { sessionIdSchema } from ${JSON.stringify(path.join(projectRoot, 'contract', 'api.ts'))};`,
        `import { clientActionSchema } from ${JSON.stringify(path.join(projectRoot, 'contract', 'events.ts'))};`,
        'const probes = {',
        "  goodSession: sessionIdSchema.safeParse('alice'),",
        "  badSession: sessionIdSchema.safeParse('a b'),",
        "  goodAction: clientActionSchema.safeParse({ action: 'subscribe', sessionId: 'alice' }),",
        "  unknownAction: clientActionSchema.safeParse({ action: 'nope' }),",
        "  extraField: clientActionSchema.safeParse({ action: 'ping', extra: 1 }),",
        "  wrongType: clientActionSchema.safeParse({ action: 'subscribe', sessionId: 42 }),",
        '};',
        'export const answers = JSON.parse(JSON.stringify(probes, (_key, value) => (value instanceof Error ? { issues: value.issues } : value)));',
      ].join('\n'),
    );
    const outdir = path.join(work.path, 'probe');
    mkdirSync(outdir, { recursive: true });
    await build({ ...lambdaOptions, entryPoints: [source], outdir, plugins });
    const { answers } = (await import(pathToFileURL(path.join(outdir, 'probe.mjs')).href)) as { answers: unknown };
    expect(answers).toEqual(expected);
    expect(JSON.stringify(answers)).toContain('must be 1 to 64 letters');
  });
});
