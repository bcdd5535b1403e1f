/**
 * Starting and stopping the processes of the local stack (Redis, session hosts, serverless offline), shared by the
 * local start command, the tests and the benchmarks. Every process is stopped by its PID, its whole group, on
 * every path; every wait has a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
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

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
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
}

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
  const collect = (chunk: Buffer, stream: NodeJS.WriteStream) => {
    output += chunk.toString();
    if (output.length > keep) output = output.slice(-keep);
    if (options.inheritOutput === true) stream.write(chunk);
  };
  child.stdout?.on('data', (chunk: Buffer) => collect(chunk, process.stdout));
  child.stderr?.on('data', (chunk: Buffer) => collect(chunk, process.stderr));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  };
  return {
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
}

/** Waits until `process` prints a line matching `pattern`; fails early if it exits. */
export async function waitForOutput(process: ManagedProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  let exited = false;
  void process.exited.then(() => {
    exited = true;
  });
  await waitFor(
    `${process.name} to print ${pattern}`,
    async () => {
      if (pattern.test(process.output())) return true;
      if (exited) throw new Error(`${process.name} exited:\n${process.output().slice(-4_000)}`);
      return undefined;
    },
    timeoutMs,
  );
}

export function temporaryDirectory(prefix: string): { path: string; remove: () => void } {
  const directory = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
  return { path: directory, remove: () => rmSync(directory, { recursive: true, force: true }) };
}
