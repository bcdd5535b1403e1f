/** Latency samples, percentiles and the two load shapes the benchmarks use (closed loop, open loop). */

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

/** Nearest-rank percentile of sorted samples (ms). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    max: sorted.at(-1) ?? Number.NaN,
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface LoadResult extends Summary {
  /** Completed operations per second over the measured window. */
  throughput: number;
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
}

/**
 * Closed loop: `concurrency` workers, each starting its next operation when its last one finishes. Runs `warmupMs`
 * unmeasured, then measures for `durationMs` (operations that start in the window count; the loop then drains).
 */
export async function closedLoop(options: {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  op: (worker: number, sequence: number) => Promise<void>;
}): Promise<LoadResult> {
  const samples: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let sequence = 0;
  const start = performance.now();
  const measureFrom = start + options.warmupMs;
  const stopAt = measureFrom + options.durationMs;
  let measuredDone = 0;
  let lastEnd = measureFrom;
  const worker = async (index: number) => {
    for (;;) {
      const began = performance.now();
      if (began >= stopAt) return;
      const measured = began >= measureFrom;
      try {
        await options.op(index, sequence++);
        const ended = performance.now();
        if (measured) {
          samples.push(ended - began);
          measuredDone += 1;
          lastEnd = Math.max(lastEnd, ended);
        }
      } catch (error) {
        if (measured) errors += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, index) => worker(index)));
  const elapsedMs = Math.max(1, lastEnd - measureFrom);
  return { ...summarize(samples), throughput: (measuredDone / elapsedMs) * 1_000, errors, firstError, elapsedMs };
}

/**
 * Open loop: calls `fire` at `ratePerSecond` for `durationMs`, whatever the answers take (a timer every ms fires
 * what is due, so the offered rate holds even when the system falls behind).
 */
export async function openLoop(options: { ratePerSecond: number; durationMs: number; fire: (sequence: number) => void }): Promise<number> {
  const start = performance.now();
  let fired = 0;
  for (;;) {
    const elapsed = performance.now() - start;
    const due = Math.min(Math.floor((elapsed / 1_000) * options.ratePerSecond), Math.floor((options.durationMs / 1_000) * options.ratePerSecond));
    while (fired < due) options.fire(fired++);
    if (elapsed >= options.durationMs) return fired;
    await sleep(1);
  }
}

export function ms(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value >= 100 ? value.toFixed(0) : value.toFixed(digits);
}

export function perSecond(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return Math.round(value).toLocaleString('en-US');
}

export function ratio(value: number, floor: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(floor) || floor <= 0) return 'n/a';
  return `${(value / floor).toFixed(1)}×`;
}

export function megabytes(bytes: number, digits = 1): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  return `${(bytes / 1024 / 1024).toFixed(digits)} MB`;
}

export function kilobytes(bytes: number, digits = 1): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  return `${(bytes / 1024).toFixed(digits)} KB`;
}
