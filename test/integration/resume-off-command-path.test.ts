/**
 * `ws.resume` through the real command path (bus → Redis inbox → worker → handler → pusher), against a real
 * redis-server: a resume never occupies the session's command queue, whether its client leaves mid-replay or reads
 * slowly, and a worker whose every slot is held by stuck commands says so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandEnvelope } from '../../contract/commands.js';
import { CommandBus } from '../../lib/command-bus.js';
import type { PostOutcome } from '../../lib/connection-poster.js';
import { ConnectionRegistry } from '../../lib/ws-connections.js';
import { createCommandHandler } from '../../session-host/command-handlers.js';
import { CommandWorker } from '../../session-host/command-worker.js';
import { EventLog } from '../../session-host/events/event-log.js';
import { EventPusher } from '../../session-host/events/event-pusher.js';
import type { SessionManager } from '../../session-host/sessions/session-manager.js';
import { silentLogger, useRedisServer } from '../support/redis.js';

const redis = useRedisServer();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const target = { hostId: 'host-a', sessionId: 'alice' };

async function setUp(options: { events: number; concurrency: number; post: (connectionId: string, frame: string) => Promise<PostOutcome> }) {
  const keys = redis.keys();
  const client = redis.client();
  const log = new EventLog(client, keys, { maxLength: 100_000, retentionMs: 3_600_000 });
  // Thousands of events, cheaply: one pipeline of XADDs in the log's own format.
  const pipeline = client.pipeline();
  for (let index = 1; index <= options.events; index += 1) {
    const body = { event: 'message_ack', sessionId: 'alice', timestamp: new Date().toISOString(), data: { messageId: `m${index}`, chatId: '1@c.us', ack: 'read' } };
    pipeline.xadd(keys.events('alice'), '*', 'e', JSON.stringify(body));
  }
  await pipeline.exec();
  const connections = new ConnectionRegistry(client, keys);
  const pusher = new EventPusher({ events: log, connections, poster: { post: options.post, close: () => undefined }, logger: silentLogger(), maxAttempts: 1 });
  pusher.start();
  let chatsServed = 0;
  const sessions = {
    chats: async () => {
      chatsServed += 1;
      return [];
    },
  } as unknown as SessionManager;
  const handler = createCommandHandler(sessions, pusher);
  const worker = new CommandWorker({
    blockingRedis: redis.client(),
    redis: client,
    keys,
    hostId: 'host-a',
    handler,
    logger: silentLogger(),
    concurrency: options.concurrency,
  });
  worker.start();
  const bus = new CommandBus({ redis: client, subscriber: redis.client(), keys, logger: silentLogger() });
  cleanups.push(async () => {
    await worker.stop(2_000);
    await pusher.stop(200);
    await bus.close();
  });
  return { keys, bus, worker, connections, served: () => chatsServed };
}

describe('ws.resume off the command path', () => {
  it('a client that leaves mid-replay leaves the session answering and the worker free', async () => {
    let posts = 0;
    const { bus, worker, connections } = await setUp({
      events: 3_000,
      concurrency: 2,
      // The connection is gone after its 100th frame, as a client that closed its socket mid-replay.
      post: async (connectionId) => (connectionId.startsWith('gone') && ++posts % 100 === 0 ? 'gone' : 'sent'),
    });
    // More resumes than the worker has slots: each used to stay in flight for good.
    for (let index = 0; index < 5; index += 1) {
      await connections.register(`gone-${index}`, 'alice');
      const reply = await bus.request(target, { type: 'ws.resume', connectionId: `gone-${index}`, after: '0-0' }, 5_000);
      expect(reply).toEqual({ queued: true });
      expect(await bus.request(target, { type: 'chats' }, 5_000)).toEqual({ chats: [] });
    }
    expect(worker.stuck().stuck).toEqual([]);
    expect(worker.problem()).toBeNull();
  });

  it('a long replay to a slow client does not hold the same session’s commands', async () => {
    const held: Array<() => void> = [];
    let slowPosts = 0;
    const { bus, connections, served } = await setUp({
      events: 6_000,
      concurrency: 2,
      post: async (connectionId) => {
        if (connectionId !== 'slow') return 'sent';
        slowPosts += 1;
        await new Promise<void>((resolve) => held.push(resolve));
        return 'sent';
      },
    });
    await connections.register('slow', 'alice');
    expect(await bus.request(target, { type: 'ws.resume', connectionId: 'slow', after: '0-0' }, 5_000)).toEqual({ queued: true });
    // The replay has started and is held at its first frame; the session's commands go through meanwhile.
    for (let tries = 0; held.length === 0; tries += 1) {
      if (tries > 1_000) throw new Error('the replay never started');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (let index = 0; index < 10; index += 1) expect(await bus.request(target, { type: 'chats' }, 5_000)).toEqual({ chats: [] });
    expect(served()).toBe(10);
    expect(slowPosts).toBe(1);
    releaseAll(held);
  });
});

describe('command worker health', () => {
  it('reports a problem once every slot is held by a command stuck past twice its deadline, and none after', async () => {
    const keys = redis.keys();
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const worker = new CommandWorker({
      blockingRedis: redis.client(),
      redis: redis.client(),
      keys,
      hostId: 'host-a',
      handler: async (envelope: CommandEnvelope) => {
        if (envelope.command.type === 'send') await released;
        return {};
      },
      logger: silentLogger(),
      concurrency: 2,
    });
    worker.start();
    const bus = new CommandBus({ redis: redis.client(), subscriber: redis.client(), keys, logger: silentLogger() });
    cleanups.push(async () => {
      release();
      await worker.stop(2_000);
      await bus.close();
    });
    const send = { type: 'send', chatId: '1@c.us', content: { kind: 'text', text: 'x' } } as const;
    const first = bus.request({ hostId: 'host-a', sessionId: 'a' }, send, 300).catch(() => undefined);
    expect(worker.problem()).toBeNull();
    const second = bus.request({ hostId: 'host-a', sessionId: 'b' }, send, 300).catch(() => undefined);
    await Promise.all([first, second]);
    for (let tries = 0; worker.problem() === null; tries += 1) {
      if (tries > 2_000) throw new Error('the worker never reported its stuck slots');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(worker.problem()).toMatch(/all 2 command slots are held by commands stuck past twice their deadline \(oldest: send of session a/);
    release();
    for (let tries = 0; worker.problem() !== null; tries += 1) {
      if (tries > 2_000) throw new Error('the worker stayed unhealthy');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
});

/** Lets every held post or replay step go on. */
function releaseAll(held: Array<() => void>): void {
  for (const release of held.splice(0)) release();
}
