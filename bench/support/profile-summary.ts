/**
 * Reads a V8 .cpuprofile (bench/support/cpu-profile.mjs) and prints where the CPU went: self time by package (or our
 * own top folder) and the heaviest functions. `npx tsx bench/support/profile-summary.ts <file.cpuprofile> [top]`
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** `node_modules/ioredis/…` → `ioredis`; our files → their top folder (`session-host`, `lib`…); Node's own → `node`. */
export function ownerOf(url: string): string {
  if (url === '') return '(native, GC, idle)';
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules?.[1] !== undefined) return inModules[1];
  if (url.startsWith('node:')) return 'node';
  const ours = /\/work\/[^/]+\/([^/]+)\//.exec(url) ?? /\/((?:session-host|lib|contract|functions))\//.exec(url);
  return ours?.[1] ?? url.replace(/^file:\/\//, '');
}

export function summarize(profile: CpuProfile, top = 15): { total: number; byOwner: Array<[string, number]>; byFunction: Array<[string, number]> } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map<number, number>();
  for (const [index, id] of profile.samples.entries()) selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000);
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of selfMs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const name = node.callFrame.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)') continue;
    total += ms;
    const owner = ownerOf(node.callFrame.url);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + ms);
    const where = `${name} ${owner}${node.callFrame.url === '' ? '' : `:${node.callFrame.lineNumber + 1}`}`;
    byFunction.set(where, (byFunction.get(where) ?? 0) + ms);
  }
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).slice(0, top);
  return { total, byOwner: sorted(byOwner), byFunction: sorted(byFunction) };
}

if (process.argv[1]?.endsWith('profile-summary.ts')) {
  const [file, topArg] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const { total, byOwner, byFunction } = summarize(profile, Number(topArg ?? 15));
  const wall = (profile.endTime - profile.startTime) / 1000;
  const line = ([name, ms]: [string, number]) => `  ${ms.toFixed(0).padStart(7)} ms  ${((ms / total) * 100).toFixed(1).padStart(5)}%  ${name}`;
  process.stdout.write(`busy ${total.toFixed(0)} ms of ${wall.toFixed(0)} ms\nby package or folder (self time):\n${byOwner.map(line).join('\n')}\nheaviest functions (self time):\n${byFunction.map(line).join('\n')}\n`);
}
