/**
 * Waiting with a bound: every helper here clears its timer and its abort listener on every path (resolved, rejected,
 * timed out, aborted), so nothing keeps the process alive or fires late.
 */

/** The error of a wait that ran out of time. `what` says what was waited for. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Settles as `promise` does, or rejects with a TimeoutError after `timeoutMs`, or with the signal's reason when it
 * aborts first. The promise itself is not cancelled (its work may go on); its late outcome is ignored.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  options: { timeoutMs: number; what: string; signal?: AbortSignal | undefined },
): Promise<T> {
  const { timeoutMs, what, signal } = options;
  if (signal?.aborted === true) {
    promise.catch(() => undefined);
    return Promise.reject(abortReason(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      cleanUp();
      reject(abortReason(signal, what));
    };
    const timer = setTimeout(() => {
      cleanUp();
      reject(new TimeoutError(`${what} took longer than ${timeoutMs} ms`));
    }, Math.max(0, timeoutMs));
    const cleanUp = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        cleanUp();
        resolve(value);
      },
      (error: unknown) => {
        cleanUp();
        reject(error);
      },
    );
  });
}

/**
 * A signal that aborts at `deadline` (epoch ms) with a TimeoutError, and `dispose()` to clear its timer once the
 * work is done.
 */
export function deadlineSignal(deadline: number, what: string, now: () => number = Date.now): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const remaining = deadline - now();
  if (remaining <= 0) {
    controller.abort(new TimeoutError(`the deadline of ${what} has passed`));
    return { signal: controller.signal, dispose: () => undefined };
  }
  const timer = setTimeout(() => controller.abort(new TimeoutError(`the deadline of ${what} has passed`)), remaining);
  return { signal: controller.signal, dispose: () => clearTimeout(timer) };
}

function abortReason(signal: AbortSignal | undefined, what: string): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new TimeoutError(`${what} was abandoned: its caller's deadline passed`);
}

/**
 * Settles as `promise` does, unless `signal` aborts first: then rejects with its reason (the work is abandoned, and
 * its late outcome ignored). With no signal, the promise itself.
 */
export function abandonOnAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortReason(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => undefined);
      reject(abortReason(signal, what));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
