/**
 * Starting and stopping the processes of the local stack (Redis, session hosts, serverless offline), shared by the
 * local start command, the tests and the benchmarks. Every process is stopped by its PID, its whole group, on
 * every path; every wait has a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const projectRoot = path.resolve(import.meta.dirname, '..', '..');

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Thrown by a `waitFor` probe to end the wait at once (a process it waits for has exited): no use waiting on. */
export class WaitAborted extends Error {}

/**
 * Polls `probe` until it returns a value (not undefined). Errors it throws are remembered and retried, except
 * WaitAborted, which ends the wait at once.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof WaitAborted) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything it printed so far (stdout and stderr), for failure messages. */
  output(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL to the process group at once. */
  kill(): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Copy the output to this process's stdout/stderr as it comes (the local stack), instead of keeping it only. */
  inheritOutput?: boolean;
  /** Keep at most this many characters of output. */
  keepOutputChars?: number;
  /**
   * Instead of copying the output as it comes, hand it over line by line (the local stack's pretty log mode, its QR
   * follower). Takes precedence over inheritOutput.
   */
  relay?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** Every process started here that has not exited yet: what the local stack must stop, whatever state it is in. */
export const liveProcesses = new Set<ManagedProcess>();

export function startProcess(options: StartOptions): ManagedProcess {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd ?? projectRoot,
    env: { ...process.env, ...options.env },
    // A group of its own, so that stopping it stops its children too (tsx, workers, Chromium).
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${options.name}`);
  const pid = child.pid;
  const keep = options.keepOutputChars ?? 200_000;
  let output = '';
  const partial = { stdout: '', stderr: '' };
  const relay = options.relay;
  const collect = (chunk: Buffer, name: 'stdout' | 'stderr') => {
    const text = chunk.toString();
    output += text;
    if (output.length > keep) output = output.slice(-keep);
    if (relay !== undefined) {
      const lines = (partial[name] + text).split('\n');
      partial[name] = lines.pop() ?? '';
      for (const line of lines) relay(line, name);
    } else if (options.inheritOutput === true) (name === 'stdout' ? process.stdout : process.stderr).write(chunk);
  };
  child.stdout?.on('data', (chunk: Buffer) => collect(chunk, 'stdout'));
  child.stderr?.on('data', (chunk: Buffer) => collect(chunk, 'stderr'));
  const flush = () => {
    for (const name of ['stdout', 'stderr'] as const) {
      if (relay !== undefined && partial[name] !== '') relay(partial[name], name);
      partial[name] = '';
    }
  };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
    liveProcesses.delete(managed);
    // What it printed last, without a newline, once its pipes have drained.
    setTimeout(flush, 50).unref();
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  };
  const managed: ManagedProcess = {
    name: options.name,
    child,
    pid,
    output: () => output,
    exited,
    async stop(graceMs = 10_000) {
      if (!hasExited) {
        signalGroup('SIGTERM');
        const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
        const result = await exited;
        clearTimeout(timer);
        signalGroup('SIGKILL'); // children that outlived their parent
        return result;
      }
      signalGroup('SIGKILL');
      return exited;
    },
    async kill() {
      signalGroup('SIGKILL');
      await exited;
    },
  };
  liveProcesses.add(managed);
  return managed;
}

/**
 * The PIDs of every living descendant of `pid` (Linux: read from /proc), whatever process group they are in: what a
 * SIGKILL of the group alone would miss (Chromium runs in a group of its own). Empty where /proc is not there.
 */
export function descendants(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const entry of entries) {
    const parent = parentOf(Number(entry));
    if (parent === undefined) continue;
    const list = children.get(parent) ?? [];
    list.push(Number(entry));
    children.set(parent, list);
  }
  const found: number[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of children.get(next) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** The parent PID of `pid` from /proc/<pid>/stat; undefined when it is gone (or a zombie: it holds nothing). */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z') return undefined;
    return Number(ppid);
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a living process (a zombie, dead but not yet reaped, is not). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return true; // no /proc: kill(0) is all we know
  }
}

/** Whether something accepts connections on `host`:`port`. */
export function portAnswers(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Whether this process could listen on `host`:`port` now (EADDRINUSE and EACCES: no). */
export async function canListen(port: number, host = '127.0.0.1'): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Fails at once, naming each port that is taken (or cannot be used), before anything is started on them. A port is
 * taken when something answers on it or this process cannot listen on it.
 */
export async function assertPortsFree(ports: Array<{ name: string; port: number }>, host = '127.0.0.1'): Promise<void> {
  const taken: string[] = [];
  for (const { name, port } of ports) {
    if ((await portAnswers(port, host, 500)) || !(await canListen(port, host))) taken.push(`${name} port ${port}`);
  }
  if (taken.length > 0) {
    throw new PortInUseError(`${taken.join(', ')} ${taken.length === 1 ? 'is' : 'are'} already in use on ${host}: stop what uses ${taken.length === 1 ? 'it' : 'them'}, or choose other ports (HTTP_PORT, WS_PORT, LAMBDA_PORT)`);
  }
}

export class PortInUseError extends Error {}

/**
 * Waits until `process` prints a line matching `pattern`; fails at once if it exits first, or if it prints a line
 * matching `failOn` (a failure it would not exit on by itself).
 */
export async function waitForOutput(process: ManagedProcess, pattern: RegExp, timeoutMs: number, failOn?: RegExp): Promise<void> {
  await waitFor(
    `${process.name} to print ${pattern}`,
    async () => {
      const output = process.output();
      if (pattern.test(output)) return true;
      if (failOn !== undefined) {
        const match = failOn.exec(output);
        if (match !== null) throw new WaitAborted(`${process.name} failed: ${lineAround(output, match.index)}`);
      }
      abortIfExited(process, `before it printed ${pattern}`);
      return undefined;
    },
    timeoutMs,
  );
}

/** Throws WaitAborted, with its last output, if `process` has exited: for `waitFor` probes. */
export function abortIfExited(process: ManagedProcess, doing: string): void {
  const { exitCode, signalCode } = process.child;
  if (exitCode === null && signalCode === null) return;
  throw new WaitAborted(`${process.name} exited (${exitCode ?? signalCode}) ${doing}:\n${process.output().slice(-4_000)}`);
}

function lineAround(text: string, index: number): string {
  const start = text.lastIndexOf('\n', index) + 1;
  const end = text.indexOf('\n', index);
  return text.slice(start, end === -1 ? undefined : end).slice(0, 500);
}

export function temporaryDirectory(prefix: string): { path: string; remove: () => void } {
  const directory = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
  return { path: directory, remove: () => rmSync(directory, { recursive: true, force: true }) };
}
