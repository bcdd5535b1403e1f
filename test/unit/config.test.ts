import { describe, expect, it } from 'vitest';
import { readFunctionsConfig } from '../../functions/config.js';
import { ConfigError } from '../../lib/env.js';
import { readSessionHostConfig } from '../../session-host/config.js';

describe('configuration', () => {
  it('has defaults that work locally', () => {
    const host = readSessionHostConfig({});
    expect(host).toMatchObject({ engine: 'webjs', keyPrefix: 'wa', redisUrl: 'redis://127.0.0.1:6379' });
    expect(host.dataDir.endsWith('data/sessions')).toBe(true);
    expect(readFunctionsConfig({}).apiKeyDigests).toEqual([]);
  });

  it('names every bad variable at once, and never echoes a Redis URL', () => {
    let error: unknown;
    try {
      readSessionHostConfig({ WA_ENGINE: 'baileys', SIMULATOR_AUTO_SCAN_MS: '-5', REDIS_URL: 'redis//:secret@host', HOST_ID: 'a b' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['WA_ENGINE', 'SIMULATOR_AUTO_SCAN_MS', 'REDIS_URL', 'HOST_ID']) expect(message).toContain(name);
    expect(message).not.toContain('secret');
  });

  it('splits API_KEYS on commas and keeps only digests', () => {
    const config = readFunctionsConfig({ API_KEYS: ' one, two ,,' });
    expect(config.apiKeyDigests).toHaveLength(2);
    expect(JSON.stringify(config)).not.toContain('one');
  });

  it('keeps the command timeout under API Gateway’s 29 s', () => {
    expect(() => readFunctionsConfig({ COMMAND_TIMEOUT_MS: '30000' })).toThrow(ConfigError);
  });
});
