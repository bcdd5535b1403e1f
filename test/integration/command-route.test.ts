/**
 * The one-round-trip command path (route-command-2 via `commandSession`) against a real redis-server: the same
 * errors as lookup + liveness + status in that order (404, 503 at once, 409 with details.status), nothing pushed when
 * refused, and the command carried to the live owner and its reply back when not.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandEnvelope } from '../../contract/commands.js';
import { ServiceError } from '../../contract/errors.js';
import { CommandBus } from '../../lib/command-bus.js';
import { CommandWorker } from '../../session-host/command-worker.js';
import { commandSession, type ApiDependencies } from '../../functions/http/dependencies.js';
import { silentLogger, useRedisServer } from '../support/redis.js';

const redis = useRedisServer();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function setUp() {
  const keys = redis.keys();
  const client = redis.client();
  const bus = new CommandBus({ redis: redis.client(), subscriber: redis.client(), keys, logger: silentLogger() });
  const seen: CommandEnvelope[] = [];
  const worker = new CommandWorker({
    blockingRedis: redis.client(),
    redis: redis.client(),
    keys,
    hostId: 'host-a',
    handler: async (envelope) => {
      seen.push(envelope);
      return { chats: [] };
    },
    logger: silentLogger(),
    concurrency: 4,
  });
  worker.start();
  cleanups.push(async () => {
    await worker.stop(3_000);
    await bus.close();
  });
  const deps = { bus, config: { commandTimeoutMs: 2_000 } } as unknown as ApiDependencies;
  const store = async (id: string, status: string, owner: string | null) => {
    const now = new Date().toISOString();
    const record = { id, status, engine: 'simulator', me: null, createdAt: now, updatedAt: now, lastError: null, qr: null };
    await client.set(keys.session(id), JSON.stringify(record));
    if (owner !== null) await client.set(keys.sessionOwner(id), owner);
  };
  return { keys, client, deps, seen, store };
}

const errorOf = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

describe('one-round-trip command path', () => {
  it('carries a command to the live owner of a connected session and its reply back', async () => {
    const { client, keys, deps, seen, store } = setUp();
    await client.set(keys.host('host-a'), '{}', 'PX', 10_000);
    await store('alice', 'connected', 'host-a');
    expect(await commandSession(deps, 'alice', { type: 'chats' }, { traceId: 'r-1', connected: true })).toEqual({ chats: [] });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ sessionId: 'alice', traceId: 'r-1', command: { type: 'chats' } });
    expect(await client.pttl(keys.hostInbox('host-a'))).not.toBe(-1);
  });

  it('answers 404, 503 and 409 (with details.status) as lookup + liveness + status did, pushing nothing', async () => {
    const { client, keys, deps, seen, store } = setUp();
    const missing = await errorOf(commandSession(deps, 'nobody', { type: 'chats' }, { connected: true }));
    expect(missing).toBeInstanceOf(ServiceError);
    expect(missing).toMatchObject({ code: 'SESSION_NOT_FOUND', details: { sessionId: 'nobody' } });

    // An owner with no heartbeat, and no owner at all: 503 at once, whatever the status.
    await store('orphan', 'qr', 'dead-host');
    await store('unowned', 'connected', null);
    for (const id of ['orphan', 'unowned']) {
      const started = Date.now();
      const error = await errorOf(commandSession(deps, id, { type: 'chats' }, { connected: true }));
      expect(error).toMatchObject({ code: 'SESSION_HOST_UNAVAILABLE', details: { sessionId: id } });
      expect(Date.now() - started).toBeLessThan(1_000);
    }
    expect(await client.llen(keys.hostInbox('dead-host'))).toBe(0);

    // A live owner but not connected: 409 for the routes that need `connected`; other commands go through.
    await client.set(keys.host('host-a'), '{}', 'PX', 10_000);
    await store('waiting', 'qr', 'host-a');
    const notConnected = await errorOf(commandSession(deps, 'waiting', { type: 'chats' }, { connected: true }));
    expect(notConnected).toMatchObject({ code: 'SESSION_NOT_CONNECTED', details: { status: 'qr' } });
    expect(seen).toHaveLength(0);
    expect(await commandSession(deps, 'waiting', { type: 'chats' })).toEqual({ chats: [] });
    expect(seen).toHaveLength(1);
  });

  it('times out as `request` does when the owner beats but never takes its inbox', async () => {
    const { client, keys, deps, store } = setUp();
    await client.set(keys.host('silent-host'), '{}', 'PX', 10_000);
    await store('stuck', 'connected', 'silent-host');
    const quick = { ...deps, config: { commandTimeoutMs: 200 } } as ApiDependencies;
    expect(await errorOf(commandSession(quick, 'stuck', { type: 'chats' }, { connected: true }))).toMatchObject({ code: 'TIMEOUT' });
    expect(await client.llen(keys.hostInbox('silent-host'))).toBe(1);
  });
});
