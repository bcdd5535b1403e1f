/**
 * The Lua scripts are files in lib/lua named `<what>-<number of keys>.lua`, each with a header that documents its
 * KEYS and ARGV; lib/lua/scripts.generated.ts carries them into the bundles and must match the files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { luaSources } from '../../lib/lua/scripts.generated.js';
import { RedisScript } from '../../lib/redis-scripts.js';
// @ts-expect-error — a plain JavaScript build script without type declarations.
import { generatedLuaModule } from '../../scripts/generate-lua.mjs';

const luaDir = path.join(import.meta.dirname, '..', '..', 'lib', 'lua');
const files = readdirSync(luaDir).filter((file) => file.endsWith('.lua'));

describe('Lua scripts', () => {
  it('are up to date in lib/lua/scripts.generated.ts (npm run generate:lua)', () => {
    expect(readFileSync(path.join(luaDir, 'scripts.generated.ts'), 'utf8')).toBe((generatedLuaModule as () => string)());
  });

  it('are each named <what>-<number of keys> and document every key they use in their header', () => {
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const name = file.slice(0, -'.lua'.length);
      const script = new RedisScript(name);
      const source = readFileSync(path.join(luaDir, file), 'utf8');
      const header = source.split('\n').filter((line) => line.startsWith('--')).join('\n');
      expect(header, file).toContain(`${name}:`);
      for (let key = 1; key <= script.numberOfKeys; key += 1) expect(header, `${file} KEYS[${key}]`).toContain(`KEYS[${key}]`);
      // A script touches no key it was not given (Redis Cluster needs every key declared).
      const used = [...source.matchAll(/KEYS\[(\d+)\]/g)].map((match) => Number(match[1]));
      expect(Math.max(0, ...used), file).toBeLessThanOrEqual(script.numberOfKeys);
      expect(luaSources[name]).toBe(source);
    }
  });

  it('refuses a script that has no file', () => {
    expect(() => new RedisScript('no-such-script-1')).toThrow(/lib\/lua\/no-such-script-1\.lua/);
  });
});
