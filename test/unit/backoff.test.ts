/** The shared retry: delays, limits by attempts and by time, retry-after, abort; and retry-after parsing. */
import { describe, expect, it } from 'vitest';
import { backoffDelay, retryWithBackoff, type AttemptOutcome } from '../../lib/backoff.js';
import { parseRetryAfter } from '../../session-host/webhooks/webhook-sender.js';

describe('backoffDelay', () => {
  it('doubles from the base up to the cap, half of it random', () => {
    const options = { baseMs: 100, maxMs: 1_000 };
    expect([1, 2, 3, 4, 5, 6].map((retry) => backoffDelay(retry, options, () => 1))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect([1, 2, 3, 4, 5, 6].map((retry) => backoffDelay(retry, options, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
  });
});

describe('retryWithBackoff', () => {
  const failing = (times: number) => {
    const seen: number[] = [];
    const attempt = async (attempt: number): Promise<AttemptOutcome<string>> => {
      seen.push(attempt);
      return seen.length > times ? { kind: 'done', value: 'ok' } : { kind: 'retry' };
    };
    return { seen, attempt };
  };

  it('retries until done', async () => {
    const { seen, attempt } = failing(3);
    expect(await retryWithBackoff(attempt, { baseMs: 1, maxMs: 2 })).toEqual({ kind: 'done', value: 'ok', attempts: 4 });
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('stops after maxAttempts', async () => {
    const { attempt } = failing(10);
    expect(await retryWithBackoff(attempt, { baseMs: 1, maxMs: 2, maxAttempts: 3 })).toEqual({ kind: 'exhausted', attempts: 3 });
  });

  it('gives up when the next attempt would start after giveUpAt, counting on from attemptsBefore', async () => {
    const { seen, attempt } = failing(10);
    const now = 1_000;
    const result = await retryWithBackoff(attempt, { baseMs: 100, maxMs: 100, giveUpAt: 1_050, attemptsBefore: 4, now: () => now, random: () => 1 });
    expect(result).toEqual({ kind: 'exhausted', attempts: 5 });
    expect(seen).toEqual([5]);
  });

  it('waits at least retry-after and tells onRetry when the next attempt is due', async () => {
    const due: number[] = [];
    let calls = 0;
    const result = await retryWithBackoff(
      async () => (++calls === 1 ? { kind: 'retry', retryAfterMs: 30 } : { kind: 'done', value: true }),
      { baseMs: 1, maxMs: 1, now: () => 0, onRetry: (_attempt, nextAttemptAt) => void due.push(nextAttemptAt) },
    );
    expect(result.kind).toBe('done');
    expect(due).toEqual([30]);
  });

  it('ends a wait at once when aborted', async () => {
    const controller = new AbortController();
    const result = retryWithBackoff(async () => ({ kind: 'retry' }), { baseMs: 60_000, maxMs: 60_000, signal: controller.signal });
    controller.abort();
    expect(await result).toEqual({ kind: 'aborted', attempts: 1 });
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, caps at an hour, ignores garbage', () => {
    const now = Date.parse('2026-11-30T12:00:00Z');
    expect(parseRetryAfter('5', now)).toBe(5_000);
    expect(parseRetryAfter('Mon, 30 Nov 2026 12:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('99999', now)).toBe(3_600_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
