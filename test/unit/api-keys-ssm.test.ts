/**
 * Deployed stages keep their API keys in an SSM SecureString: the functions read it at cold start and re-read it in
 * the background once it is older than its maximum age. (The packaged functions reading a real GetParameter answer
 * from a stand-in SSM endpoint: test/deploy/package.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { digestOfKey, readApiKeyDigestsFromSsm, readFunctionsConfig } from '../../functions/config.js';
import { apiKeysMaxAgeMs, apiKeysRetryMs, SsmApiKeys } from '../../functions/runtime.js';
import { keyMatches } from '../../functions/http/middleware.js';
import { ConfigError } from '../../lib/env.js';
import { silentLogger } from '../support/redis.js';

describe('API keys from SSM', () => {
  it('takes the parameter name from API_KEYS_PARAMETER, and refuses it beside API_KEYS', () => {
    const config = readFunctionsConfig({ API_KEYS_PARAMETER: '/whatsapp-service/prod/api-keys' });
    expect(config.apiKeysParameter).toBe('/whatsapp-service/prod/api-keys');
    expect(config.apiKeyDigests).toEqual([]);
    expect(readFunctionsConfig({ API_KEYS: 'dev' }).apiKeysParameter).toBeUndefined();
    expect(() => readFunctionsConfig({ API_KEYS_PARAMETER: '/p', API_KEYS: 'dev' })).toThrow(/both set/);
    expect(() => readFunctionsConfig({ API_KEYS_PARAMETER: 'no-slash' })).toThrow(ConfigError);
  });

  it('splits the parameter on commas and keeps only digests', async () => {
    const asked: string[] = [];
    const digests = await readApiKeyDigestsFromSsm('/p', async (name) => {
      asked.push(name);
      return ' k1, k2 ,,';
    });
    expect(asked).toEqual(['/p']);
    expect(digests).toEqual([digestOfKey('k1'), digestOfKey('k2')]);
  });

  it('reads once at cold start, re-reads in place after the maximum age, and keeps its keys when a re-read fails', async () => {
    let now = 1_000;
    let value = 'old';
    let reads = 0;
    let failing = false;
    const keys = new SsmApiKeys(
      '/p',
      async () => {
        reads += 1;
        if (failing) throw new Error('throttled');
        return value;
      },
      silentLogger(),
      () => now,
    );
    await keys.load();
    const checked = keys.digests; // the array the key checks hold
    expect(keyMatches('old', checked)).toBe(true);
    expect(reads).toBe(1);

    // Fresh: no read at all.
    now += apiKeysMaxAgeMs - 1;
    expect(keys.refreshIfStale()).toBeUndefined();
    expect(reads).toBe(1);

    // Stale: one background read, however many requests come meanwhile; the same array gets the new keys.
    value = 'new1,new2';
    now += 2;
    const refresh = keys.refreshIfStale();
    expect(keys.refreshIfStale()).toBe(refresh);
    await refresh;
    expect(reads).toBe(2);
    expect(keyMatches('old', checked)).toBe(false);
    expect(keyMatches('new2', checked)).toBe(true);

    // A failed re-read keeps the keys in hand and waits before the next attempt.
    failing = true;
    now += apiKeysMaxAgeMs;
    await keys.refreshIfStale();
    expect(reads).toBe(3);
    expect(keyMatches('new1', checked)).toBe(true);
    now += apiKeysRetryMs - 1;
    expect(keys.refreshIfStale()).toBeUndefined();
    failing = false;
    now += 2;
    await keys.refreshIfStale();
    expect(reads).toBe(4);
  });

  it('fails the cold start when the first read fails', async () => {
    const keys = new SsmApiKeys('/p', async () => Promise.reject(new Error('AccessDenied')), silentLogger());
    await expect(keys.load()).rejects.toThrow('AccessDenied');
  });
});
