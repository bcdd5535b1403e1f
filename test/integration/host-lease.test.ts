/**
 * The lease on a host id, and the heartbeat that renews it, against a real redis-server: one process per HOST_ID,
 * a dead holder's lease waited out, a lost lease noticed, and a heartbeat withheld while the host is unhealthy.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RedisKeys } from '../../contract/redis-keys.js';
import { acquireHostLease, HostIdInUseError, HostRegistry } from '../../session-host/host-registry.js';
import type { SessionManager } from '../../session-host/sessions/session-manager.js';
import { silentLogger, useRedisServer } from '../support/redis.js';

const redis = useRedisServer();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const timing = { heartbeatMs: 50, hostTtlMs: 300 };
const noSessions = { size: 0, has: () => false, adopt: async () => false, release: async () => undefined } as unknown as SessionManager;

async function startHost(keys: RedisKeys, hostId: string, options: { problem?: () => string | null; onLeaseLost?: () => void } = {}) {
  const client = redis.client();
  const leaseToken = await acquireHostLease({ redis: client, keys, hostId, ...timing, logger: silentLogger() });
  const registry = new HostRegistry({ redis: client, keys, hostId, engine: 'simulator', ...timing, sessions: noSessions, logger: silentLogger(), leaseToken, ...options });
  await registry.start();
  cleanups.push(() => registry.stop());
  return { registry, leaseToken };
}

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  for (let tries = 0; !(await check()); tries += 1) {
    if (tries > 1_000) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('host lease', () => {
  it('refuses a second process under a HOST_ID whose holder is alive, naming the id and the time left', async () => {
    const keys = redis.keys();
    await startHost(keys, 'h1');
    const refused = await acquireHostLease({ redis: redis.client(), keys, hostId: 'h1', ...timing, logger: silentLogger() }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(HostIdInUseError);
    expect((refused as HostIdInUseError).message).toMatch(/HOST_ID 'h1' is in use by another live session host: its lease is being renewed \(\d+ ms left on it/);
    // The holder goes on beating.
    const before = await redis.client().get(keys.host('h1'));
    await until('another heartbeat of the holder', async () => (await redis.client().get(keys.host('h1'))) !== before);
  });

  it('waits out the lease of a holder that died (no renewal), then takes it', async () => {
    const keys = redis.keys();
    // What a kill -9 leaves: a lease nobody renews, lapsing within HOST_TTL_MS.
    await redis.client().set(keys.hostLease('h2'), 'dead-process', 'PX', timing.hostTtlMs);
    const { leaseToken } = await startHost(keys, 'h2');
    expect(await redis.client().get(keys.hostLease('h2'))).toBe(leaseToken);
    expect(await redis.client().exists(keys.host('h2'))).toBe(1);
  });

  it('notices a lease taken by another process, stops beating, and leaves the other process’s keys alone', async () => {
    const keys = redis.keys();
    let lost = 0;
    const { registry } = await startHost(keys, 'h3', { onLeaseLost: () => (lost += 1) });
    // Another process under the same id, after this one was paused past its TTL.
    await redis.client().set(keys.hostLease('h3'), 'the-other-process', 'PX', 60_000);
    await redis.client().set(keys.host('h3'), 'the-other-process-info', 'PX', 60_000);
    await until('the lease loss to be noticed', () => lost === 1);
    expect(registry.leaseLost).toBe(true);
    await registry.stop();
    expect(await redis.client().get(keys.hostLease('h3'))).toBe('the-other-process');
    expect(await redis.client().get(keys.host('h3'))).toBe('the-other-process-info');
    expect(lost).toBe(1);
  });

  it('withholds the heartbeat while the host reports a problem, and beats again once it is gone', async () => {
    const keys = redis.keys();
    let problem: string | null = null;
    const { registry } = await startHost(keys, 'h4', { problem: () => problem });
    problem = 'all 1 command slots are held by stuck commands';
    await until('the host key to lapse', async () => (await redis.client().exists(keys.host('h4'))) === 0);
    expect(registry.withheld).toBe(problem);
    problem = null;
    await until('the heartbeat to come back', async () => (await redis.client().exists(keys.host('h4'))) === 1);
    expect(registry.leaseLost).toBe(false);
  });

  it('withdraws the host and frees its id at once on a clean stop', async () => {
    const keys = redis.keys();
    const { registry } = await startHost(keys, 'h5');
    await registry.stop();
    expect(await redis.client().exists(keys.hostLease('h5'), keys.host('h5'))).toBe(0);
    expect(await acquireHostLease({ redis: redis.client(), keys, hostId: 'h5', ...timing, logger: silentLogger() })).toEqual(expect.any(String));
  });
});
