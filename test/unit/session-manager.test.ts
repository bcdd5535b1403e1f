/**
 * SessionManager on fakes of its narrow ports (a store, an event sink, an engine): concurrent create, delete and
 * restart of one session; a command whose caller's deadline passes mid-engine-call; an operation the engine lacks.
 */
import { describe, expect, it } from 'vitest';
import type { Chat, Contact, Message } from '../../contract/api.js';
import type { SessionRecord } from '../../contract/commands.js';
import type { EventBody } from '../../contract/events.js';
import { deadlineSignal } from '../../lib/async.js';
import type { Engine, EngineListener, EngineSession, SendOptions } from '../../session-host/engines/engine.js';
import { SessionManager, type EventSink, type SessionStorePort } from '../../session-host/sessions/session-manager.js';
import { silentLogger } from '../support/redis.js';

class FakeStore implements SessionStorePort {
  readonly records = new Map<string, SessionRecord>();
  async create(record: SessionRecord) {
    // A tick of "Redis" between the check and the write, as a real round trip has.
    await Promise.resolve();
    if (this.records.has(record.id)) return false;
    this.records.set(record.id, record);
    return true;
  }
  async save(record: SessionRecord) {
    if (!this.records.has(record.id)) return false;
    this.records.set(record.id, record);
    return true;
  }
  async claim(sessionId: string) {
    return this.records.has(sessionId) ? ('claimed' as const) : ('missing' as const);
  }
  async get(sessionId: string) {
    return this.records.get(sessionId) ?? null;
  }
  async remove(sessionId: string) {
    this.records.delete(sessionId);
  }
  async disown() {
    return true;
  }
}

class FakeEvents implements EventSink {
  readonly appended: EventBody[] = [];
  async append(body: EventBody) {
    this.appended.push(body);
    return { id: `${this.appended.length}-0`, ...body };
  }
}

/** An engine whose sessions connect at once; `send` waits for `release` unless the caller's signal aborts first. */
class FakeEngine implements Engine {
  readonly name = 'simulator' as const;
  readonly log: string[] = [];
  /** Sends abandoned by their caller's deadline, seen by the engine through its signal. */
  readonly abandoned: string[] = [];
  pairing = true;
  /** Each session's listener: a test reports engine events through it. */
  readonly listeners = new Map<string, EngineListener>();
  openSession({ sessionId, listener }: { sessionId: string; listener: EngineListener }): EngineSession {
    const engine = this;
    engine.listeners.set(sessionId, listener);
    const session: EngineSession = {
      async start() {
        engine.log.push(`start ${sessionId}`);
        await Promise.resolve();
        listener.emit({ type: 'status', status: 'connected', me: { id: '15550001111@c.us', pushName: 'Fake', lid: null } });
      },
      async stop() {
        engine.log.push(`stop ${sessionId}`);
      },
      async logout() {
        engine.log.push(`logout ${sessionId}`);
      },
      send({ chatId, content, signal }: SendOptions): Promise<Message> {
        return new Promise((_resolve, reject) => {
          signal?.addEventListener('abort', () => {
            engine.abandoned.push(content.kind === 'text' ? content.text : content.kind);
            reject(signal.reason);
          });
          engine.log.push(`send ${chatId}`);
        });
      },
      listChats: async (): Promise<Chat[]> => [],
      listMessages: async (): Promise<Message[]> => [],
      listContacts: async (): Promise<Contact[]> => [],
    };
    if (engine.pairing) session.requestPairingCode = async () => 'ABCD-EFGH';
    return session;
  }
  async close() {}
}

/** An event sink that takes bursts (appendMany), each call recorded as one group; a write can be held at a gate. */
class BatchingEvents extends FakeEvents {
  readonly groups: string[][] = [];
  gate: Promise<void> = Promise.resolve();
  override async append(body: EventBody) {
    await this.gate;
    this.groups.push([labelOf(body)]);
    return super.append(body);
  }
  async appendMany(items: ReadonlyArray<{ body: EventBody }>) {
    await this.gate;
    this.groups.push(items.map((item) => labelOf(item.body)));
    return Promise.all(items.map((item) => super.append(item.body)));
  }
}

function labelOf(body: EventBody): string {
  if (body.event === 'message') return body.data.body;
  if (body.event === 'connection_update') return body.data.status;
  return body.event;
}

function manager(engine = new FakeEngine(), events: FakeEvents = new FakeEvents()) {
  const store = new FakeStore();
  const sessions = new SessionManager({ engine, store, events, logger: silentLogger(), stopTimeoutMs: 1_000 });
  return { sessions, store, events, engine };
}

/** Lets the manager's queued writes and lifecycle steps (microtasks over fakes with no I/O) run. */
async function settled(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

function incoming(body: string): Message {
  const at = new Date().toISOString();
  return {
    id: `false_1@c.us_${body}`, chatId: '1@c.us', from: '1@c.us', to: '2@c.us', fromMe: false, type: 'chat', body, timestamp: at, ack: 'delivered',
    sender: { id: '1@c.us', lid: null, phone: '1' }, quotedMessageId: null, media: null, location: null,
  };
}

/** A connected session `a` whose events go to a batching sink, and the engine listener that reports for it. */
async function connectedBatching(): Promise<{ events: BatchingEvents; listener: EngineListener }> {
  const engine = new FakeEngine();
  const events = new BatchingEvents();
  const { sessions } = manager(engine, events);
  await sessions.create('a');
  await settled();
  const listener = engine.listeners.get('a');
  if (listener === undefined) throw new Error('no listener');
  return { events, listener };
}

describe('SessionManager', () => {
  it('tells a durable queue when what it reported could not be stored, so that it keeps it', async () => {
    const { events, listener } = await connectedBatching();
    events.gate = Promise.reject(new Error('Redis is away'));
    events.gate.catch(() => undefined);
    listener.emit({ type: 'message', message: incoming('lost') });
    await expect(listener.flushed?.()).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    events.gate = Promise.resolve();
    listener.emit({ type: 'message', message: incoming('kept') });
    await expect(listener.flushed?.()).resolves.toBeUndefined();
  });

  it('writes a burst of events in one round trip, and never lets an event overtake a status change', async () => {
    const { events, listener } = await connectedBatching();
    let open: () => void = () => undefined;
    events.gate = new Promise((resolve) => (open = resolve));
    events.groups.length = 0;
    // A write in progress (held at the gate) while more come: m1 is under way, m2 and m3 wait together, the status
    // change closes their batch, and m4 starts the next one.
    listener.emit({ type: 'message', message: incoming('m1') });
    await Promise.resolve();
    await Promise.resolve();
    listener.emit({ type: 'message', message: incoming('m2') });
    listener.emit({ type: 'message', message: incoming('m3') });
    listener.emit({ type: 'status', status: 'disconnected', lastError: { code: 'X', message: 'x' } });
    listener.emit({ type: 'message', message: incoming('m4') });
    open();
    await listener.flushed?.();
    expect(events.groups).toEqual([['m1'], ['m2', 'm3'], ['disconnected'], ['m4']]);
  });

  it('creates a session once when two creates of one id race', async () => {
    const { sessions, store, engine } = manager();
    const outcomes = await Promise.allSettled([sessions.create('a'), sessions.create('a')]);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.find((outcome) => outcome.status === 'rejected')).toMatchObject({ reason: { code: 'SESSION_EXISTS' } });
    expect(engine.log.filter((line) => line === 'start a')).toHaveLength(1);
    expect(store.records.has('a')).toBe(true);
  });

  it('deletes a session while restarts of it are under way: the restarts finish first, the engine is logged out, the record is gone', async () => {
    const { sessions, store, engine, events } = manager();
    await sessions.create('a');
    await settled();
    const restarts = [sessions.restart('a'), sessions.restart('a')];
    const deleted = sessions.delete('a');
    const [first, second, removed] = await Promise.allSettled([...restarts, deleted]);
    expect(first?.status).toBe('fulfilled');
    expect(second?.status).toBe('fulfilled');
    expect(removed).toMatchObject({ status: 'fulfilled', value: { id: 'a' } });
    expect(store.records.has('a')).toBe(false);
    expect(engine.log.at(-1)).toBe('logout a');
    // Once deleted, nothing of the session is written any more.
    const count = events.appended.length;
    await settled();
    expect(events.appended.length).toBe(count);
    await expect(sessions.restart('a')).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });

  it('runs concurrent restarts one after the other: stop, start, stop, start', async () => {
    const { sessions, engine } = manager();
    await sessions.create('a');
    engine.log.length = 0;
    await Promise.all([sessions.restart('a'), sessions.restart('a')]);
    await settled();
    await sessions.delete('a'); // waits for the restarts' lifecycle
    expect(engine.log.slice(0, 4)).toEqual(['stop a', 'start a', 'stop a', 'start a']);
  });

  it('abandons an engine call when its caller’s deadline passes, and the engine sees the abort', async () => {
    const { sessions, engine } = manager();
    await sessions.create('a');
    await settled();
    const deadline = deadlineSignal(Date.now() + 50, 'send');
    try {
      await expect(sessions.send('a', { chatId: '1@c.us', content: { kind: 'text', text: 'slow' }, signal: deadline.signal })).rejects.toMatchObject({
        name: 'TimeoutError',
      });
    } finally {
      deadline.dispose();
    }
    expect(engine.abandoned).toEqual(['slow']);
  });

  it('answers NOT_SUPPORTED_BY_ENGINE (422) for an operation its engine lacks', async () => {
    const engine = new FakeEngine();
    engine.pairing = false;
    const { sessions } = manager(engine);
    await sessions.create('a');
    await expect(sessions.pairingCode('a', { phone: '15550001111' })).rejects.toMatchObject({
      code: 'NOT_SUPPORTED_BY_ENGINE',
      details: { operation: 'requestPairingCode' },
    });
    await expect(sessions.contact('a', { contactId: '1@c.us' })).rejects.toMatchObject({ code: 'NOT_SUPPORTED_BY_ENGINE' });
    await expect(sessions.control('a', 'scan', {})).rejects.toMatchObject({ code: 'NOT_SUPPORTED_BY_ENGINE' });
  });

  it('answers 503, not 404, for a session that exists but runs on no host here', async () => {
    const { sessions, store } = manager();
    store.records.set('elsewhere', {
      id: 'elsewhere',
      status: 'connected',
      engine: 'simulator',
      me: null,
      createdAt: new Date(0).toISOString(),
      updatedAt: new Date(0).toISOString(),
      lastError: null,
      qr: null,
    });
    await expect(sessions.chats('elsewhere')).rejects.toMatchObject({ code: 'SESSION_HOST_UNAVAILABLE' });
    await expect(sessions.chats('nowhere')).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });
});
