/** Reading memory and CPU of processes (and their trees) from Linux /proc. */
import { readdirSync, readFileSync } from 'node:fs';

interface ProcStat {
  pid: number;
  ppid: number;
  state: string;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
    const rest = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    const field = (index: number) => Number(rest[index] ?? 'NaN');
    return { pid, state: rest[0] ?? '?', ppid: field(1), cpuTicks: field(11) + field(12) };
  } catch {
    return undefined;
  }
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat !== undefined && stat.state !== 'Z' && stat.state !== 'X') stats.push(stat);
  }
  return stats;
}

/** `root` and every live descendant of it. */
export function processTree(root: number): number[] {
  const stats = allStats();
  const children = new Map<number, number[]>();
  for (const stat of stats) {
    const list = children.get(stat.ppid) ?? [];
    list.push(stat.pid);
    children.set(stat.ppid, list);
  }
  if (!stats.some((stat) => stat.pid === root)) return [];
  const tree: number[] = [];
  const pending = [root];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    tree.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** Live processes whose command line contains `needle`. */
export function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const stat of allStats()) {
    try {
      if (readFileSync(`/proc/${stat.pid}/cmdline`, 'utf8').includes(needle)) pids.push(stat.pid);
    } catch {
      // gone
    }
  }
  return pids.filter((pid) => pid !== process.pid);
}

function kbField(text: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return match?.[1] === undefined ? 0 : Number(match[1]) * 1024;
}

export interface Memory {
  rss: number;
  pss: number;
  /** Private (not shared with any other process) pages. */
  uss: number;
}

/** Bytes of one process, from smaps_rollup (PSS counts each shared page divided by the processes sharing it). */
export function memoryOf(pid: number): Memory {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return {
      rss: kbField(rollup, 'Rss'),
      pss: kbField(rollup, 'Pss'),
      uss: kbField(rollup, 'Private_Clean') + kbField(rollup, 'Private_Dirty'),
    };
  } catch {
    return { rss: 0, pss: 0, uss: 0 };
  }
}

export function memoryOfAll(pids: readonly number[]): Memory {
  const total = { rss: 0, pss: 0, uss: 0 };
  for (const pid of pids) {
    const memory = memoryOf(pid);
    total.rss += memory.rss;
    total.pss += memory.pss;
    total.uss += memory.uss;
  }
  return total;
}

/** CPU time used so far by a set of processes, in ms (threads included). */
export function cpuMsOf(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) ticks += readStat(pid)?.cpuTicks ?? 0;
  return (ticks * 1_000) / 100; // USER_HZ is 100 on Linux
}

/** Measures the CPU that each named set of processes uses while `run` runs, as % of one core. */
export async function cpuDuring<T>(
  groups: Record<string, () => readonly number[]>,
  run: () => Promise<T>,
): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, cpuMsOf(pids())]));
  const started = performance.now();
  const result = await run();
  const elapsed = performance.now() - started;
  const cpu: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) cpu[name] = ((cpuMsOf(pids()) - (before[name] ?? 0)) / elapsed) * 100;
  return { result, cpu };
}

export function formatCpu(cpu: Record<string, number>): string {
  return Object.entries(cpu)
    .map(([name, percent]) => `${name} ${Math.round(percent)}%`)
    .join(', ');
}
