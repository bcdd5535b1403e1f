// `npm run build:session-host`: the session host, precompiled by esbuild into one ES module for the container image
// (no TypeScript loader at run time: tsx writes /tmp/tsx-* and would crash on a read-only root file system).
// Packages that load files or browsers at run time (whatsapp-web.js and Puppeteer) stay external: the image installs
// them with `npm ci --omit=dev`. Everything else, our code included, is in the bundle.
//
//   node scripts/build-session-host.mjs [--outdir DIR] [--metafile FILE]
//   → DIR/main.mjs (+ main.mjs.map; run it with `node --enable-source-maps DIR/main.mjs`); default DIR: .local/build/session-host
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const projectRoot = path.resolve(import.meta.dirname, '..');

/** What the bundle leaves to node_modules: each must be a production dependency in package.json. */
export const sessionHostExternals = ['whatsapp-web.js', 'puppeteer', 'puppeteer-core'];

export async function buildSessionHost({ outdir = path.join(projectRoot, '.local', 'build', 'session-host') } = {}) {
  const result = await build({
    absWorkingDir: projectRoot,
    entryPoints: { main: 'session-host/main.ts' },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node20', // the image runs Node 22; local runs (tests) may still be on Node 20
    format: 'esm',
    sourcemap: true,
    minify: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    external: sessionHostExternals,
    // CommonJS packages inside an ES module bundle still call require() for Node's built-ins.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  return { outfile: path.join(outdir, 'main.mjs'), metafile: result.metafile };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { outdir: { type: 'string' }, metafile: { type: 'string' } } });
  const started = performance.now();
  const { outfile, metafile } = await buildSessionHost(values.outdir === undefined ? {} : { outdir: path.resolve(values.outdir) });
  if (values.metafile !== undefined) writeFileSync(values.metafile, JSON.stringify(metafile));
  const bytes = Object.entries(metafile.outputs).find(([file]) => file.endsWith('main.mjs'))?.[1].bytes ?? 0;
  process.stdout.write(`session host bundled: ${outfile} (${(bytes / 1e6).toFixed(1)} MB, ${Math.round(performance.now() - started)} ms)\n`);
}
