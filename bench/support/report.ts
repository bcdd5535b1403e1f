/** What each benchmark part hands back to bench/run.ts, and how a part process is run. */
import { writeFileSync } from 'node:fs';
import type { ManagedProcess } from '../../scripts/support/processes.js';

export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
}

export interface TargetCheck {
  target: string;
  measured: string;
  /** null: not measured in this run (skipped). */
  met: boolean | null;
  /** What limits it, as measured in this run. */
  limit: string;
}

export interface PartReport {
  part: string;
  title: string;
  method: string[];
  tables: Table[];
  targets: TargetCheck[];
  notes: string[];
}

export interface PartContext {
  smoke: boolean;
  /** Registers a process to stop (by its PID group) on every path: normal end, failure, SIGINT/SIGTERM. */
  track<T extends ManagedProcess>(process: T): T;
  /** Registers any other cleanup (temporary directories, connections, Chromium trees), run in reverse order. */
  onCleanup(cleanup: () => Promise<void> | void): void;
  log(message: string): void;
}

/**
 * The main of a part process (`node --import tsx bench/parts/<part>.ts --result <file> [--smoke]`): runs `body`,
 * writes its report as JSON to the result file, and stops everything the part started, whatever happens.
 */
export function runPart(body: (context: PartContext) => Promise<PartReport>): void {
  const args = process.argv.slice(2);
  const smoke = args.includes('--smoke');
  const resultAt = args.indexOf('--result');
  const resultFile = resultAt >= 0 ? args[resultAt + 1] : undefined;
  const cleanups: Array<() => Promise<void> | void> = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      for (let next = cleanups.pop(); next !== undefined; next = cleanups.pop()) {
        try {
          await next();
        } catch (error) {
          process.stderr.write(`bench cleanup failed: ${String(error)}\n`);
        }
      }
    })();
    return cleaning;
  };
  const context: PartContext = {
    smoke,
    track(managed) {
      cleanups.push(async () => {
        await managed.stop(5_000);
      });
      return managed;
    },
    onCleanup(fn) {
      cleanups.push(fn);
    },
    log(message) {
      process.stderr.write(`  [${new Date().toISOString().slice(11, 19)}] ${message}\n`);
    },
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void cleanup().finally(() => process.exit(130));
    });
  }
  void (async () => {
    let exitCode = 0;
    try {
      const report = await body(context);
      if (resultFile !== undefined) writeFileSync(resultFile, JSON.stringify(report, null, 2));
      else process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } catch (error) {
      process.stderr.write(`bench part failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      exitCode = 1;
    } finally {
      await cleanup();
    }
    // Connections a library keeps open (Redis reconnects, keep-alive sockets) must not hold the part open.
    process.exit(exitCode);
  })();
}
