/**
 * esbuild plugins of the Lambda bundles: serverless.yml's `custom.esbuild.plugins` names this file, and the
 * cold-start benchmark (bench/parts/cold-start.ts) bundles with the same list, so both measure the same bundles.
 * Both cut zod's weight in a bundle without touching a schema: contract/ stays classic zod, the one source of truth
 * for validation and the OpenAPI document.
 *
 * zodNamespaceImport: `import { z } from 'zod'` hands out zod's namespace as one value (zod's index.js does
 * `import * as z …; export { z }`), so a bundler must keep every export of zod, used or not.
 * `import * as z from 'zod'` names the same exports (zod's index.js also does `export * from` the same module) but
 * lets esbuild keep only what `z.<name>` reaches. In our own .ts files (never in node_modules) the plugin reads the
 * first form as the second; a file already written the second way is left as it is. Worth about 90 KB minified in a
 * function that only validates (the WebSocket functions).
 *
 * zodEnglishOnly: the whole namespace (still handed out by @hono/zod-openapi, so in the api function) re-exports
 * `locales`: every translation of zod's error messages, about 255 KB minified. Nothing here calls
 * `z.config(z.locales.xx())`; zod registers English by itself (classic/schemas.js imports locales/en.js directly).
 * So `locales/index.js` becomes a module with English only: `z.locales.en` exists, any other `z.locales.xx` is
 * undefined in a bundle.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** @type {import('esbuild').Plugin} */
export const zodNamespaceImport = {
  name: 'zod-namespace-import',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (/[\\/]node_modules[\\/]/.test(args.path)) return undefined;
      const source = await readFile(args.path, 'utf8');
      const rewritten = source.replace(/^import \{ z \} from 'zod';$/m, "import * as z from 'zod';");
      return { contents: rewritten, loader: 'ts' };
    });
  },
};

/** @type {import('esbuild').Plugin} */
export const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
      if (!/[\\/]node_modules[\\/]zod[\\/]v4[\\/](classic|mini|core)$/.test(args.resolveDir)) return undefined;
      return { path: path.join(args.resolveDir, '..', 'locales', 'index.js'), namespace: 'zod-english-only' };
    });
    build.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(path.join(path.dirname(args.path), 'en.js'))};\n`,
      resolveDir: path.dirname(args.path),
      loader: 'js',
    }));
  },
};

export const plugins = [zodNamespaceImport, zodEnglishOnly];

/**
 * The esbuild options that serverless.yml's custom.esbuild amounts to (plugins apart): what the bench and the tests
 * bundle a function with, so that they measure and check the bundles a deployment gets. Keep the two in step.
 * @type {import('esbuild').BuildOptions}
 */
export const lambdaBuildOptions = {
  bundle: true,
  minify: true,
  sourcemap: false,
  target: 'node22',
  platform: 'node',
  format: 'esm',
  outExtension: { '.js': '.mjs' },
  external: ['@aws-sdk/*'],
  banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
  logLevel: 'silent',
};

export default plugins;
