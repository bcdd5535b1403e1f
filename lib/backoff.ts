/**
 * Retry with capped exponential backoff and jitter: the one implementation behind the WebSocket pusher's posts
 * (a few quick retries) and the webhook deliveries (retries for up to a day, honouring `retry-after`).
 */

export interface BackoffOptions {
  /** The delay before the first retry; it doubles with each retry up to `maxMs`. */
  baseMs: number;
  maxMs: number;
}

/**
 * The delay before retry number `retry` (1 = the first retry): `baseMs · 2^(retry-1)` capped at `maxMs`, of which
 * half is fixed and half random ("equal jitter"), so that many failing callers do not retry in step.
 */
export function backoffDelay(retry: number, options: BackoffOptions, random: () => number = Math.random): number {
  const delay = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, retry - 1));
  return delay / 2 + random() * (delay / 2);
}

/** What one attempt says: finished (with a value), or worth another try (no sooner than `retryAfterMs`, if given). */
export type AttemptOutcome<T> = { kind: 'done'; value: T } | { kind: 'retry'; retryAfterMs?: number };

export type RetryResult<T> =
  | { kind: 'done'; value: T; attempts: number }
  /** The attempts or the time allowed ran out. */
  | { kind: 'exhausted'; attempts: number }
  | { kind: 'aborted'; attempts: number };

export interface RetryOptions extends BackoffOptions {
  /** Attempts in all (the first included); none = no limit but `giveUpAt`. */
  maxAttempts?: number;
  /** Epoch ms: no attempt starts after it (a retry that would wait past it gives up instead). */
  giveUpAt?: number;
  /** Ends the waits between attempts at once (the attempt itself must watch it too). */
  signal?: AbortSignal;
  /** Attempts already made (a retry series that goes on after a restart): the next delay follows on from them. */
  attemptsBefore?: number;
  /** Called before each wait with the attempt that failed and when the next is due (epoch ms). */
  onRetry?: (attempt: number, nextAttemptAt: number) => void | Promise<void>;
  now?: () => number;
  random?: () => number;
}

/** Runs `attempt` until it is done, the attempts or the time run out, or `signal` aborts. Never throws for those. */
export async function retryWithBackoff<T>(
  attempt: (attemptNumber: number) => Promise<AttemptOutcome<T>>,
  options: RetryOptions,
): Promise<RetryResult<T>> {
  const now = options.now ?? Date.now;
  for (let attempts = (options.attemptsBefore ?? 0) + 1; ; attempts += 1) {
    if (options.signal?.aborted === true) return { kind: 'aborted', attempts: attempts - 1 };
    const outcome = await attempt(attempts);
    if (outcome.kind === 'done') return { kind: 'done', value: outcome.value, attempts };
    if (options.maxAttempts !== undefined && attempts >= options.maxAttempts) return { kind: 'exhausted', attempts };
    const delay = Math.max(backoffDelay(attempts, options, options.random), outcome.retryAfterMs ?? 0);
    const nextAttemptAt = now() + delay;
    if (options.giveUpAt !== undefined && nextAttemptAt > options.giveUpAt) return { kind: 'exhausted', attempts };
    await options.onRetry?.(attempts, nextAttemptAt);
    if (!(await sleep(delay, options.signal))) return { kind: 'aborted', attempts };
  }
}

/** Waits `ms`; resolves false at once when `signal` aborts (before or during the wait), true otherwise. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted === true) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
