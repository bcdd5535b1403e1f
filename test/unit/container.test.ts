/**
 * What can be checked of the session host's image without a Docker engine (none runs on these machines): it runs
 * the command the tests start, and it copies every source file that command loads.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../scripts/support/processes.js';
import { sessionHostArgs } from '../../scripts/support/stack.js';

const dockerfile = readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');

describe('session host container', () => {
  it('runs the command the tests start, under an init process, as a non-root user', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(cmd).toBeDefined();
    expect(JSON.parse(cmd!)).toEqual(['node', ...sessionHostArgs]);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
    expect(dockerfile).toMatch(/^USER app$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/PUPPETEER_SKIP_DOWNLOAD=true/);
    expect(dockerfile).toMatch(/^VOLUME \["\/data\/sessions"\]$/m);
  });

  it('copies every source file the session host loads', async () => {
    const copied = [...dockerfile.matchAll(/^COPY (\S+) \.\/\S*$/gm)].map((match) => match[1]!);
    const result = await build({
      entryPoints: [path.join(projectRoot, 'session-host/main.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const sources = Object.keys(result.metafile.inputs);
    expect(sources.length).toBeGreaterThan(10);
    for (const source of sources) {
      expect(copied.some((folder) => source.startsWith(`${folder}/`)), `${source} is not copied into the image`).toBe(true);
    }
  });
});
