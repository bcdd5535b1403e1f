/**
 * The command bus against a real redis-server: a caller pushes a command onto a host's inbox and waits for the
 * reply on its own channel; the worker takes it, runs it once, answers. Deadlines, missing owners, concurrency.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandEnvelope } from '../../contract/commands.js';
import { ServiceError } from '../../contract/errors.js';
import { CommandBus } from '../../lib/command-bus.js';
import { SessionDirectory } from '../../lib/session-directory.js';
import { CommandWorker } from '../../session-host/command-worker.js';
import { liveOwner } from '../../functions/http/dependencies.js';
import { silentLogger, useRedisServer } from '../support/redis.js';

const redis = useRedisServer();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function setUp(handler: (envelope: CommandEnvelope) => Promise<unknown>, hostId = 'host-a') {
  const keys = redis.keys();
  const bus = new CommandBus({ redis: redis.client(), subscriber: redis.client(), keys, logger: silentLogger() });
  const worker = new CommandWorker({
    blockingRedis: redis.client(),
    redis: redis.client(),
    keys,
    hostId,
    handler,
    logger: silentLogger(),
    concurrency: 16,
  });
  worker.start();
  cleanups.push(async () => {
    await worker.stop(3_000);
    await bus.close();
  });
  return { keys, bus, worker };
}

const session = { type: 'chats' } as const;

describe('command bus', () => {
  it('carries a command to the host and its reply back', async () => {
    const seen: CommandEnvelope[] = [];
    const { bus } = setUp(async (envelope) => {
      seen.push(envelope);
      return { chats: [] };
    });
    const result = await bus.request({ hostId: 'host-a', sessionId: 'alice' }, session, 2_000, 'request-1');
    expect(result).toEqual({ chats: [] });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ traceId: 'request-1', sessionId: 'alice', command: { type: 'chats' } });
    expect(seen[0]!.deadline).toBeGreaterThan(Date.now());
  });

  it('returns the host’s domain error as a ServiceError with its code and details', async () => {
    const { bus } = setUp(async () => {
      throw new ServiceError('SESSION_NOT_CONNECTED', 'not connected', { details: { status: 'qr' } });
    });
    const error = await bus.request({ hostId: 'host-a', sessionId: 'alice' }, session, 2_000).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ServiceError);
    expect(error).toMatchObject({ code: 'SESSION_NOT_CONNECTED', details: { status: 'qr' } });
  });

  it('hides an unexpected host failure behind INTERNAL', async () => {
    const { bus } = setUp(async () => {
      throw new Error('secret stack detail');
    });
    const error = (await bus.request({ hostId: 'host-a', sessionId: 'alice' }, session, 2_000).catch((caught: unknown) => caught)) as ServiceError;
    expect(error.code).toBe('INTERNAL');
    expect(error.message).not.toContain('secret');
  });

  it('answers TIMEOUT at the deadline, and drops the late reply', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { bus } = setUp(async () => {
      await released;
      return { chats: [] };
    });
    const started = Date.now();
    const error = (await bus.request({ hostId: 'host-a', sessionId: 'alice' }, session, 300).catch((caught: unknown) => caught)) as ServiceError;
    const waited = Date.now() - started;
    expect(error.code).toBe('TIMEOUT');
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(bus.inFlight).toBe(0);
    release();
    // The late reply arrives and finds nobody waiting: nothing throws, nothing is left behind.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(bus.inFlight).toBe(0);
    // The bus still works afterwards.
    expect(await bus.request({ hostId: 'host-a', sessionId: 'alice' }, session, 2_000)).toEqual({ chats: [] });
  });

  it('answers TIMEOUT when no host takes the command, and the host later drops it unrun', async () => {
    const keys = redis.keys();
    const bus = new CommandBus({ redis: redis.client(), subscriber: redis.client(), keys, logger: silentLogger() });
    cleanups.push(() => bus.close());
    const error = (await bus.request({ hostId: 'host-late', sessionId: 'alice' }, session, 200).catch((caught: unknown) => caught)) as ServiceError;
    expect(error.code).toBe('TIMEOUT');
    // The host comes up after the deadline: the command is in its inbox, but must not run.
    let ran = 0;
    const worker = new CommandWorker({
      blockingRedis: redis.client(),
      redis: redis.client(),
      keys,
      hostId: 'host-late',
      handler: async () => {
        ran += 1;
        return {};
      },
      logger: silentLogger(),
      concurrency: 4,
    });
    worker.start();
    cleanups.push(() => worker.stop(3_000));
    const inbox = redis.client();
    await expect.poll(() => inbox.llen(keys.hostInbox('host-late')), { timeout: 3_000 }).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ran).toBe(0);
  });

  it('keeps two requests with the same x-request-id apart', async () => {
    const at = new Date().toISOString();
    const { bus } = setUp(async (envelope) => {
      const count = envelope.command.type === 'messages' ? envelope.command.limit : 0;
      await new Promise((resolve) => setTimeout(resolve, count === 1 ? 100 : 10));
      return {
        messages: Array.from({ length: count }, (_, index) => ({
          id: `m${index}`, chatId: '1@c.us', from: '1@c.us', to: '2@c.us', fromMe: false, type: 'chat', body: 'x', timestamp: at, ack: 'delivered', sender: { id: '1@c.us', lid: null, phone: '1' }, quotedMessageId: null, media: null, location: null,
        })),
        nextBefore: null,
      };
    });
    const [first, second] = await Promise.all([
      bus.request({ hostId: 'host-a', sessionId: 'one' }, { type: 'messages', chatId: '1@c.us', limit: 1 }, 2_000, 'same-id'),
      bus.request({ hostId: 'host-a', sessionId: 'two' }, { type: 'messages', chatId: '1@c.us', limit: 2 }, 2_000, 'same-id'),
    ]);
    expect(first.messages).toHaveLength(1);
    expect(second.messages).toHaveLength(2);
  });

  it('keeps two requests in flight apart, and runs commands of different sessions in parallel', async () => {
    const order: string[] = [];
    const { bus } = setUp(async (envelope) => {
      order.push(`start:${envelope.sessionId}`);
      await new Promise((resolve) => setTimeout(resolve, envelope.sessionId === 'slow' ? 200 : 10));
      order.push(`end:${envelope.sessionId}`);
      return { chats: [{ id: `${envelope.sessionId}@c.us`, name: envelope.sessionId, isGroup: false, unreadCount: 0, timestamp: new Date(0).toISOString(), lastMessage: null, lid: null, phone: null }] };
    });
    const [slow, fast] = await Promise.all([
      bus.request({ hostId: 'host-a', sessionId: 'slow' }, session, 2_000),
      bus.request({ hostId: 'host-a', sessionId: 'fast' }, session, 2_000),
    ]);
    expect(slow.chats[0]?.name).toBe('slow');
    expect(fast.chats[0]?.name).toBe('fast');
    expect(order.indexOf('end:fast')).toBeLessThan(order.indexOf('end:slow'));
  });

  it('runs the commands of one session one at a time, in order', async () => {
    const running = new Set<string>();
    let overlap = false;
    const finished: number[] = [];
    const { bus } = setUp(async (envelope) => {
      if (running.has(envelope.sessionId)) overlap = true;
      running.add(envelope.sessionId);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running.delete(envelope.sessionId);
      if (envelope.command.type === 'messages') finished.push(envelope.command.limit);
      return { messages: [], nextBefore: null };
    });
    await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        bus.request({ hostId: 'host-a', sessionId: 'same' }, { type: 'messages', chatId: '1@c.us', limit: index + 1 }, 5_000),
      ),
    );
    expect(overlap).toBe(false);
    expect(finished).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
  });

  it('finds no live owner for a session whose host has no heartbeat: SESSION_HOST_UNAVAILABLE', async () => {
    const keys = redis.keys();
    const client = redis.client();
    const directory = new SessionDirectory(client, keys);
    const record = {
      id: 'orphan',
      status: 'connected',
      engine: 'simulator',
      me: null,
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      lastError: null,
      qr: null,
    };
    await client.set(keys.session('orphan'), JSON.stringify(record));
    await client.set(keys.sessionOwner('orphan'), 'dead-host');
    const entry = await directory.get('orphan');
    expect(entry?.ownerHostId).toBeNull();
    expect(() => liveOwner(entry!)).toThrow(expect.objectContaining({ code: 'SESSION_HOST_UNAVAILABLE' }));
    // Once the host beats, it is the owner again.
    await client.set(keys.host('dead-host'), '{}', 'PX', 5_000);
    expect((await directory.get('orphan'))?.ownerHostId).toBe('dead-host');
    expect(await directory.get('nobody')).toBeNull();
  });

  it('fails fast with SERVICE_UNAVAILABLE when Redis is away', async () => {
    const keys = redis.keys();
    const { createRedis } = await import('../../lib/redis.js');
    const url = 'redis://127.0.0.1:1';
    const offlineRedis = createRedis(url, { name: 'offline', queueWhileOffline: false });
    const offlineSubscriber = createRedis(url, { name: 'offline-sub', queueWhileOffline: false });
    offlineRedis.on('error', () => undefined);
    offlineSubscriber.on('error', () => undefined);
    const bus = new CommandBus({ redis: offlineRedis, subscriber: offlineSubscriber, keys, logger: silentLogger(), redisWaitMs: 300 });
    const started = Date.now();
    const error = (await bus.request({ hostId: 'h', sessionId: 's' }, session, 5_000).catch((caught: unknown) => caught)) as ServiceError;
    expect(error.code).toBe('SERVICE_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(2_000);
    await bus.close();
    offlineRedis.disconnect();
    offlineSubscriber.disconnect();
  });
});
