/**
 * Owns the sessions of this host: opens an engine session for each, turns what the engine reports into session
 * state in Redis and into events, and runs the commands the worker hands it. One instance per host process.
 */
import { createHash } from 'node:crypto';
import type { Chat, Contact, Message, Session, SessionStatus } from '../../contract/api.js';
import { publicSession, type OutgoingContentCommand, type SessionRecord, type StoredMedia } from '../../contract/commands.js';
import { ContactNotFoundError, ServiceError, SessionNotConnectedError, SessionNotFoundError } from '../../contract/errors.js';
import { collectBytes, type BlobStore } from '../../lib/blob-store.js';
import type { EventBody } from '../../contract/events.js';
import type { Logger } from '../../lib/logger.js';
import { abandonOnAbort } from '../../lib/async.js';
import {
  capabilityOf,
  type Capability,
  type CallOptions,
  type ChatOptions,
  type EditOptions,
  type Engine,
  type EngineSession,
  type EngineEvent,
  type EngineStatusUpdate,
  type GetContactOptions,
  type ListMessagesOptions,
  type MessageOptions,
  type OutgoingContent,
  type PairingCodeOptions,
  type ReactOptions,
  type RevokeOptions,
  type SendOptions,
} from '../engines/engine.js';
import type { EventLog } from '../events/event-log.js';
import { applyStatusChange, newSessionRecord, type StatusChange } from './session-state.js';
import type { SendLedger } from './send-ledger.js';
import type { SessionStore } from './session-store.js';

/** The session records this manager needs: create, save, claim, read, remove, disown (SessionStore in Redis). */
export type SessionStorePort = Pick<SessionStore, 'create' | 'save' | 'claim' | 'get' | 'remove' | 'disown'>;
/** Where events go (the per-session event log); `appendMany` (optional for fakes) takes a burst in one round trip. */
export type EventSink = Pick<EventLog, 'append'> & Partial<Pick<EventLog, 'appendMany'>>;

/** Events of one session written in one round trip at most (a burst beyond waits for the next). */
const maxEventBatch = 100;
/** Where media bytes go and come from (never through Redis). */
export type MediaBlobs = Pick<BlobStore, 'get' | 'put' | 'delete'>;

/** A send as the command carries it: media by its key in the blob store. */
export interface SendRequest extends CallOptions {
  chatId: string;
  content: OutgoingContentCommand;
  replyTo?: string | undefined;
  mentions?: readonly string[] | undefined;
}

/** A page of a chat's history, oldest first; `nextBefore` pages further back (null: nothing older). */
export interface MessagePage {
  messages: Message[];
  nextBefore: string | null;
}

/** Media put in the blob store for a send or a download is kept this long (the local sweep, S3's lifecycle rule). */
const defaultMediaTtlMs = 24 * 3_600_000;
/** The most a blob taken for a send may hold: what the functions accept (MEDIA_MAX_BYTES), with room. */
const maxOutgoingMediaBytes = 64 * 1024 * 1024;

export interface SessionManagerOptions {
  engine: Engine;
  store: SessionStorePort;
  events: EventSink;
  /** Makes sends under an Idempotency-Key at-most-once across host crashes. */
  sendLedger?: SendLedger;
  /** Media to send and downloaded media; without it, media sends and downloads answer NOT_SUPPORTED_BY_ENGINE. */
  blobs?: MediaBlobs;
  /** How long downloaded media stays in the blob store (default 24 h). */
  mediaTtlMs?: number;
  logger: Logger;
  /** How long stopping one engine session may take before it is abandoned (its resources are the engine's). */
  stopTimeoutMs?: number;
  /** QR rotations nobody scans before the session gives up as `failed` with QR_TIMEOUT (default 10). */
  qrMaxRotations?: number;
  /** The most sessions this host runs: a create beyond answers LIMIT_REACHED, an adoption is declined (default: no cap). */
  maxSessions?: number;
  now?: () => Date;
}

interface ManagedSession {
  record: SessionRecord;
  engineSession: EngineSession;
  logger: Logger;
  /** Saves and event appends of one session run in order, one at a time. */
  writes: Promise<void>;
  /** A write failed since the engine last asked `flushed`: what it reported may not be stored. */
  writeFailed: boolean;
  /**
   * Events queued behind the write in progress, not yet begun: a new event joins them (one round trip for the
   * burst). A write of another kind closes the batch, so nothing overtakes it.
   */
  openBatch: Array<{ body: EventBody; onceKey?: string | undefined }> | null;
  /** False once the session is being deleted or handed over: late engine reports are ignored. */
  active: boolean;
  /** Restarts run one after the other, and a delete waits for the one under way. */
  lifecycle: Promise<void>;
  /** QRs shown since the session last started waiting for a scan. */
  qrShown: number;
}

export class SessionManager {
  private readonly sessions = new Map<string, ManagedSession>();
  /** Sessions being adopted or deleted: a sweep must not adopt them meanwhile. */
  private readonly busy = new BusyIds();
  /** Set by stopAll: from then on nothing is adopted. */
  private closing = false;
  private readonly engine: Engine;
  private readonly store: SessionStorePort;
  private readonly events: EventSink;
  private readonly sendLedger: SendLedger | undefined;
  private readonly blobs: MediaBlobs | undefined;
  private readonly mediaTtlMs: number;
  private readonly logger: Logger;
  private readonly stopTimeoutMs: number;
  private readonly qrMaxRotations: number;
  readonly maxSessions: number;
  private readonly now: () => Date;

  constructor(options: SessionManagerOptions) {
    this.engine = options.engine;
    this.store = options.store;
    this.events = options.events;
    this.sendLedger = options.sendLedger;
    this.blobs = options.blobs;
    this.mediaTtlMs = options.mediaTtlMs ?? defaultMediaTtlMs;
    this.logger = options.logger;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 15_000;
    this.qrMaxRotations = options.qrMaxRotations ?? 10;
    this.maxSessions = options.maxSessions ?? Number.POSITIVE_INFINITY;
    this.now = options.now ?? (() => new Date());
  }

  get size(): number {
    return this.sessions.size;
  }

  has(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  /** Creates under way: counted with the sessions, so that two concurrent creates cannot both take the last place. */
  private creating = 0;

  get full(): boolean {
    return this.sessions.size + this.creating >= this.maxSessions;
  }

  async create(sessionId: string): Promise<Session> {
    if (this.sessions.has(sessionId)) throw sessionExists(sessionId);
    // Placement skips full hosts; this catches placements that raced past the count the host last announced.
    if (this.full) throw hostFull(this.maxSessions);
    const record = newSessionRecord(sessionId, this.engine.name, this.now());
    this.creating += 1;
    let created: boolean;
    try {
      created = await this.store.create(record);
    } finally {
      this.creating -= 1;
    }
    if (!created) throw sessionExists(sessionId);
    const managed = this.open(record);
    this.enqueueEvent(managed, connectionUpdate(record, this.now()));
    await this.startEngine(managed);
    return publicSession(managed.record);
  }

  /** Takes a session recorded in Redis (after a restart, or from a dead host) and starts it again. */
  async adopt(sessionId: string): Promise<boolean> {
    if (this.sessions.has(sessionId)) return true;
    if (this.closing || this.busy.has(sessionId) || this.full) return false;
    this.busy.enter(sessionId);
    try {
      // The engine first: a host must never take a session it cannot run (the right host could then not adopt it).
      const stored = await this.store.get(sessionId);
      if (stored === null) return false;
      if (stored.engine !== this.engine.name) {
        this.logger.warn({ sessionId, engine: stored.engine }, 'not adopting a session of another engine');
        return false;
      }
      if ((await this.store.claim(sessionId)) !== 'claimed' || this.closing) return false;
      const managed = this.open(stored);
      this.applyChange(managed, { status: 'starting' });
      await this.startEngine(managed);
      return true;
    } finally {
      this.busy.leave(sessionId);
    }
  }

  async delete(sessionId: string): Promise<Session> {
    const managed = await this.require(sessionId);
    const asItWas = publicSession(managed.record);
    managed.active = false;
    this.sessions.delete(sessionId);
    // Until its record is gone, a sweep would see an owned session missing here and adopt it again.
    this.busy.enter(sessionId);
    try {
      await managed.lifecycle;
      await this.bounded(managed, 'logout', () => managed.engineSession.logout());
      await managed.writes;
      await this.store.remove(sessionId);
    } finally {
      this.busy.leave(sessionId);
    }
    managed.logger.info('session deleted');
    return asItWas;
  }

  /** Puts the session through `starting` again, keeping its data; answers at once with the session as it is then. */
  async restart(sessionId: string): Promise<Session> {
    const managed = await this.require(sessionId);
    this.applyChange(managed, { status: 'starting' });
    const snapshot = publicSession(managed.record);
    managed.lifecycle = managed.lifecycle.then(async () => {
      await this.bounded(managed, 'stop', () => managed.engineSession.stop());
      if (managed.active) await this.startEngine(managed);
    });
    return snapshot;
  }

  async send(sessionId: string, request: SendRequest, idempotencyKey?: string): Promise<Message> {
    const managed = await this.requireConnected(sessionId);
    // Before the ledger's mark: a blob store that fails here has sent nothing, and the key must stay free.
    const options: SendOptions = {
      chatId: request.chatId,
      content: await this.outgoingContent(request.content),
      replyTo: request.replyTo,
      mentions: request.mentions,
      signal: request.signal,
    };
    const send = async () => {
      const message = await abandonOnAbort(managed.engineSession.send(options), request.signal, 'sending');
      // The engine has its own copy now (WhatsApp's servers, or the simulator's store): the upload can go.
      if (request.content.kind === 'media') {
        this.blobs?.delete(request.content.blobKey).catch((error: unknown) => managed.logger.warn({ err: error }, 'could not remove sent media'));
      }
      return message;
    };
    if (idempotencyKey === undefined || this.sendLedger === undefined) return send();
    return this.sendLedger.once(sessionId, idempotencyKey, send);
  }

  /** The command's content as the engine takes it: media read from the blob store (a gone upload is a 400). */
  private async outgoingContent(content: OutgoingContentCommand): Promise<OutgoingContent> {
    if (content.kind !== 'media') return content;
    const blob = await this.mediaStore('send media').get(content.blobKey);
    if (blob === null) {
      throw new ServiceError('VALIDATION_FAILED', 'The media to send is no longer available; send it again.', {
        details: { fields: [{ path: 'media', message: 'is no longer available' }] },
      });
    }
    const data = await collectBytes(blob.stream, maxOutgoingMediaBytes);
    return {
      kind: 'media',
      media: { data, mimetype: content.mimetype, filename: content.filename, caption: content.caption, asVoice: content.asVoice },
    };
  }

  async chats(sessionId: string, options: CallOptions = {}): Promise<Chat[]> {
    const managed = await this.requireConnected(sessionId);
    return abandonOnAbort(managed.engineSession.listChats(options), options.signal, 'listing chats');
  }

  /** A page of history: one message more than asked tells whether there is an older page. */
  async messages(sessionId: string, options: ListMessagesOptions): Promise<MessagePage> {
    const managed = await this.requireConnected(sessionId);
    const listed = await abandonOnAbort(
      managed.engineSession.listMessages({ ...options, limit: options.limit + 1 }),
      options.signal,
      'listing messages',
    );
    const messages = listed.length > options.limit ? listed.slice(listed.length - options.limit) : listed;
    return { messages, nextBefore: listed.length > options.limit ? (messages[0]?.id ?? null) : null };
  }

  /**
   * Puts a message's media in the blob store (once: a second download finds it there) and answers where it is. The
   * key is derived from the session and message ids, so any host finds what another stored.
   */
  async downloadMedia(sessionId: string, options: MessageOptions): Promise<StoredMedia> {
    const managed = await this.requireConnected(sessionId);
    const download = capabilityOf(managed.engineSession, 'downloadMedia', this.engine.name);
    const blobs = this.mediaStore('downloadMedia');
    // The session's creation time in the key: a session made again under the same id never finds the old one's media.
    const generation = managed.record.createdAt;
    const blobKey = `media/${sessionId}/${createHash('sha256').update(`${generation}\n${options.messageId}`).digest('hex').slice(0, 40)}`;
    const existing = await blobs.get(blobKey);
    if (existing !== null) {
      existing.stream.destroy();
      return { blobKey, mimetype: existing.contentType, filename: existing.filename, size: existing.size };
    }
    const media = await abandonOnAbort(download(options), options.signal, 'downloading media');
    const stored = await blobs.put(blobKey, media.data, {
      contentType: media.mimetype,
      ...(media.filename === null ? {} : { filename: media.filename }),
      expiresAt: new Date(this.now().getTime() + this.mediaTtlMs),
    });
    return { blobKey, mimetype: media.mimetype, filename: media.filename, size: stored.size };
  }

  react(sessionId: string, options: ReactOptions): Promise<void> {
    return this.onConnected(sessionId, 'react', 'reacting', options, (react) => react(options));
  }

  edit(sessionId: string, options: EditOptions): Promise<Message> {
    return this.onConnected(sessionId, 'edit', 'editing', options, (edit) => edit(options));
  }

  revoke(sessionId: string, options: RevokeOptions): Promise<void> {
    return this.onConnected(sessionId, 'revoke', 'deleting', options, (revoke) => revoke(options));
  }

  markRead(sessionId: string, options: ChatOptions): Promise<void> {
    return this.onConnected(sessionId, 'markRead', 'marking read', options, (markRead) => markRead(options));
  }

  /**
   * One optional operation of a connected session's engine (NOT_SUPPORTED_BY_ENGINE without it), given up when the
   * caller's deadline passes.
   */
  private async onConnected<C extends Capability, R>(
    sessionId: string,
    capability: C,
    what: string,
    { signal }: CallOptions,
    call: (operation: NonNullable<EngineSession[C]>) => Promise<R>,
  ): Promise<R> {
    const managed = await this.requireConnected(sessionId);
    return abandonOnAbort(call(capabilityOf(managed.engineSession, capability, this.engine.name)), signal, what);
  }

  /** The blob store, or NOT_SUPPORTED_BY_ENGINE for a host that has none (media cannot go through Redis). */
  private mediaStore(operation: string): MediaBlobs {
    if (this.blobs === undefined) {
      throw new ServiceError('NOT_SUPPORTED_BY_ENGINE', 'This session host has no blob store for media.', { details: { operation } });
    }
    return this.blobs;
  }

  async contacts(sessionId: string, options: CallOptions = {}): Promise<Contact[]> {
    const managed = await this.requireConnected(sessionId);
    return abandonOnAbort(managed.engineSession.listContacts(options), options.signal, 'listing contacts');
  }

  async contact(sessionId: string, options: GetContactOptions): Promise<Contact> {
    const contact = await this.onConnected(sessionId, 'getContact', 'looking up a contact', options, (getContact) => getContact(options));
    if (contact === null) throw new ContactNotFoundError(options.contactId);
    return contact;
  }

  /**
   * Asks the engine for a pairing code while the session shows a QR, and tells WebSocket clients with a
   * `connection_update` that carries it (the user types it on the phone; the session then links as after a scan).
   */
  async pairingCode(sessionId: string, options: PairingCodeOptions): Promise<string> {
    const managed = await this.require(sessionId);
    const requestPairingCode = capabilityOf(managed.engineSession, 'requestPairingCode', this.engine.name);
    if (managed.record.status !== 'qr') throw qrNotAvailable(managed.record.status);
    const code = await abandonOnAbort(requestPairingCode(options), options.signal, 'asking for a pairing code');
    const update = connectionUpdate(managed.record, this.now());
    if (update.event === 'connection_update') update.data.pairingCode = code;
    this.enqueueEvent(managed, update);
    return code;
  }

  /**
   * One of the engine's own controls (the simulator's scan, pair, incoming, drain): the engine declares and
   * validates them; an engine without that control answers NOT_SUPPORTED_BY_ENGINE.
   */
  async control(sessionId: string, action: string, input: unknown, options: CallOptions = {}): Promise<unknown> {
    const managed = await this.require(sessionId);
    const control = Object.hasOwn(managed.engineSession.controls ?? {}, action) ? managed.engineSession.controls?.[action] : undefined;
    if (control === undefined) {
      throw new ServiceError('NOT_SUPPORTED_BY_ENGINE', `The ${this.engine.name} engine has no control '${action}'.`, {
        details: { engine: this.engine.name, operation: action },
      });
    }
    return abandonOnAbort(
      control(input, { signal: options.signal, session: () => publicSession(managed.record) }),
      options.signal,
      `the ${action} control`,
    );
  }

  /** Stops every session of this host (keeping their data), waiting for their state to reach Redis. */
  async stopAll(): Promise<void> {
    this.closing = true;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(
      all.map(async (managed) => {
        managed.active = false;
        await managed.lifecycle;
        await this.bounded(managed, 'stop', () => managed.engineSession.stop());
        await managed.writes;
      }),
    );
  }

  /** Local sessions whose status is one of `statuses`: candidates to move to a less loaded host. */
  idsWithStatus(statuses: readonly SessionStatus[]): string[] {
    return [...this.sessions.values()].filter((managed) => statuses.includes(managed.record.status)).map((managed) => managed.record.id);
  }

  /**
   * Moves a session away (rebalancing): stops it here, keeping its data, and gives up the claim so that a less
   * loaded host adopts it. False when it is not here or not ours any more.
   */
  async handOver(sessionId: string): Promise<boolean> {
    const managed = this.sessions.get(sessionId);
    if (managed === undefined || this.busy.has(sessionId) || this.closing) return false;
    this.busy.enter(sessionId);
    try {
      managed.active = false;
      this.sessions.delete(sessionId);
      await managed.lifecycle;
      await this.bounded(managed, 'stop', () => managed.engineSession.stop());
      await managed.writes;
      const disowned = await this.store.disown(sessionId);
      managed.logger.info({ disowned }, 'handed the session over to a less loaded host');
      return disowned;
    } finally {
      this.busy.leave(sessionId);
    }
  }

  /**
   * Gives up this host's claim on a session it does not run (it is full), so that a host with room adopts it instead
   * of its commands answering 503 for as long as this host lives. False when the claim was not ours.
   */
  async relinquish(sessionId: string): Promise<boolean> {
    if (this.sessions.has(sessionId) || this.busy.has(sessionId)) return false;
    return this.store.disown(sessionId);
  }

  /** Stops a session that another host has taken over, without touching its data or its record. */
  async release(sessionId: string): Promise<void> {
    const managed = this.sessions.get(sessionId);
    if (managed === undefined) return;
    managed.active = false;
    this.sessions.delete(sessionId);
    await this.bounded(managed, 'stop', () => managed.engineSession.stop());
    managed.logger.warn('released a session now owned by another host');
  }

  private open(record: SessionRecord): ManagedSession {
    const logger = this.logger.child({ sessionId: record.id });
    const managed: ManagedSession = {
      record,
      logger,
      writes: Promise.resolve(),
      writeFailed: false,
      openBatch: null,
      active: true,
      lifecycle: Promise.resolve(),
      qrShown: 0,
      // Assigned right below: the listener needs `managed`, and the engine session needs the listener.
      engineSession: undefined as unknown as EngineSession,
    };
    managed.engineSession = this.engine.openSession({
      sessionId: record.id,
      listener: {
        emit: (event) => this.onEngineEvent(managed, event),
        // Rejects once the session stopped here (moved, stopped, deleted): what it reported since may have been
        // dropped, so a durable queue must keep its items for the session's next host.
        flushed: async () => {
          await managed.writes;
          // A durable queue (the simulator's mailbox) must keep what was not stored, to show it again.
          if (managed.writeFailed) {
            managed.writeFailed = false;
            throw new ServiceError('SERVICE_UNAVAILABLE', `Events of session '${record.id}' could not be stored.`);
          }
          if (!managed.active) throw new ServiceError('SESSION_HOST_UNAVAILABLE', `Session '${record.id}' stopped running here.`);
        },
      },
    });
    this.sessions.set(record.id, managed);
    return managed;
  }

  private async startEngine(managed: ManagedSession): Promise<void> {
    try {
      await managed.engineSession.start();
    } catch (error) {
      managed.logger.error({ err: error }, 'the engine could not start the session');
      this.applyChange(managed, {
        status: 'failed',
        lastError: { code: error instanceof ServiceError ? error.code : 'ENGINE_START_FAILED', message: errorMessage(error) },
      });
    }
  }

  /** An engine event → session state and the contract's events (the switch is exhaustive over EngineEvent). */
  private onEngineEvent(managed: ManagedSession, event: EngineEvent): void {
    if (!managed.active) return;
    const sessionId = managed.record.id;
    const timestamp = this.now().toISOString();
    switch (event.type) {
      case 'status': {
        const { type: _type, ...update } = event;
        this.onEngineStatus(managed, update);
        return;
      }
      case 'message':
        // Once per message id, whichever host reports it (WhatsApp announces some twice, and a host that took the
        // session over may report again what the one before it had).
        this.enqueueEvent(managed, { event: 'message', sessionId, timestamp, data: event.message }, `message:${event.message.id}`);
        return;
      case 'ack': {
        const { type: _type, ...ack } = event;
        this.enqueueEvent(managed, { event: 'message_ack', sessionId, timestamp, data: ack });
        return;
      }
      case 'reaction': {
        const { type: _type, ...reaction } = event;
        this.enqueueEvent(managed, { event: 'message_reaction', sessionId, timestamp, data: reaction });
        return;
      }
      case 'edited': {
        const { type: _type, ...edited } = event;
        this.enqueueEvent(managed, { event: 'message_edited', sessionId, timestamp, data: edited });
        return;
      }
      case 'revoked': {
        const { type: _type, ...revoked } = event;
        this.enqueueEvent(managed, { event: 'message_revoked', sessionId, timestamp, data: revoked });
        return;
      }
      default: {
        const unhandled: never = event;
        // Only its kind: an event may carry a message text, which never goes to logs.
        managed.logger.error({ eventType: (unhandled as { type?: unknown }).type }, 'an engine event this session host does not know');
      }
    }
  }

  private onEngineStatus(managed: ManagedSession, update: EngineStatusUpdate): void {
    if (!managed.active) return;
    managed.qrShown = update.status === 'qr' ? managed.qrShown + 1 : 0;
    if (managed.qrShown > this.qrMaxRotations) {
      this.giveUpOnQr(managed);
      return;
    }
    this.applyChange(managed, {
      status: update.status,
      qr: update.qr,
      me: update.me,
      lastError: update.lastError,
      forgetMe: update.loggedOut,
    });
  }

  /**
   * Nobody scanned: stop showing QRs (each rotation costs an event and a log line) and say so. The login data stays;
   * a restart starts again with a fresh QR.
   */
  private giveUpOnQr(managed: ManagedSession): void {
    managed.qrShown = 0;
    managed.logger.info({ qrMaxRotations: this.qrMaxRotations }, 'nobody scanned the QR; giving up');
    managed.lifecycle = managed.lifecycle.then(async () => {
      await this.bounded(managed, 'stop', () => managed.engineSession.stop());
      if (!managed.active) return;
      this.applyChange(managed, {
        status: 'failed',
        lastError: {
          code: 'QR_TIMEOUT',
          message: `Nobody scanned the QR (${this.qrMaxRotations} shown); restart the session to show a new one.`,
        },
      });
    });
  }

  private applyChange(managed: ManagedSession, change: StatusChange): void {
    const transition = applyStatusChange(managed.record, change, this.now());
    if (transition.kind === 'refused') {
      managed.logger.warn({ from: transition.from, to: transition.to }, 'ignored a status change the state machine refuses');
      return;
    }
    if (transition.kind === 'unchanged') return;
    const record = transition.record;
    managed.record = record;
    managed.logger.info({ status: record.status, lastError: record.lastError }, 'session status changed');
    this.enqueue(managed, async () => {
      if (!(await this.store.save(record))) {
        managed.logger.warn('the session is no longer ours: state not saved');
        return;
      }
      await this.events.append(connectionUpdate(record, this.now()));
    });
  }

  private enqueueEvent(managed: ManagedSession, body: EventBody, onceKey?: string): void {
    const appendMany = this.events.appendMany?.bind(this.events);
    if (appendMany === undefined) {
      this.enqueue(managed, async () => {
        await this.events.append(body, onceKey === undefined ? {} : { onceKey });
      });
      return;
    }
    if (managed.openBatch !== null && managed.openBatch.length < maxEventBatch) {
      managed.openBatch.push({ body, onceKey });
      return;
    }
    const batch = [{ body, onceKey }];
    managed.openBatch = batch;
    this.chain(managed, async () => {
      // From here on, new events go to the next batch.
      if (managed.openBatch === batch) managed.openBatch = null;
      await appendMany(batch);
    });
  }

  /** A write of another kind (a state save with its event): it closes the open batch, so it keeps its place. */
  private enqueue(managed: ManagedSession, write: () => Promise<void>): void {
    managed.openBatch = null;
    this.chain(managed, write);
  }

  private chain(managed: ManagedSession, write: () => Promise<void>): void {
    managed.writes = managed.writes.then(write).catch((error: unknown) => {
      managed.writeFailed = true;
      managed.logger.error({ err: error }, 'could not write session state or an event to Redis');
    });
  }

  /**
   * The local session, or the right error: a session that exists but is not here (another host has it now, or it
   * waits for adoption: a command left in this host's inbox from before a restart) is 503, never 404.
   */
  private async require(sessionId: string): Promise<ManagedSession> {
    const managed = this.sessions.get(sessionId);
    if (managed !== undefined) return managed;
    if ((await this.store.get(sessionId)) !== null) {
      throw new ServiceError('SESSION_HOST_UNAVAILABLE', `Session '${sessionId}' is not running on this session host; try again shortly.`, {
        details: { sessionId },
      });
    }
    throw new SessionNotFoundError(sessionId);
  }

  private async requireConnected(sessionId: string): Promise<ManagedSession> {
    const managed = await this.require(sessionId);
    if (managed.record.status !== 'connected') throw new SessionNotConnectedError(sessionId, managed.record.status);
    return managed;
  }

  /** Runs an engine stop or logout, but never lets it hold the caller longer than stopTimeoutMs. */
  private async bounded(managed: ManagedSession, what: string, run: () => Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        run(),
        new Promise<void>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${what} took longer than ${this.stopTimeoutMs} ms`)), this.stopTimeoutMs);
        }),
      ]);
    } catch (error) {
      managed.logger.error({ err: error }, `engine ${what} failed`);
    } finally {
      clearTimeout(timer);
    }
  }
}

function connectionUpdate(record: SessionRecord, now: Date): EventBody {
  return {
    event: 'connection_update',
    sessionId: record.id,
    timestamp: now.toISOString(),
    data: { status: record.status, qr: record.qr, lastError: record.lastError, me: record.me },
  };
}

function sessionExists(sessionId: string): ServiceError {
  return new ServiceError('SESSION_EXISTS', `A session named '${sessionId}' exists already.`, { details: { sessionId } });
}

function hostFull(max: number): ServiceError {
  return new ServiceError('LIMIT_REACHED', `The session host runs its most sessions (${max}); try again, another host may have room.`, {
    details: { cap: 'sessionsPerHost', limit: max },
  });
}

function qrNotAvailable(status: SessionStatus): ServiceError {
  return new ServiceError('QR_NOT_AVAILABLE', `The session has no QR to scan: it is ${status}.`, { details: { status } });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Ids some step is working on (adoption, deletion, handover), counted: a delete that overlaps an adoption stays
 * marked until both are done, so a sweep cannot adopt the session again in between.
 */
class BusyIds {
  private readonly counts = new Map<string, number>();
  enter(id: string): void {
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
  }
  leave(id: string): void {
    const count = (this.counts.get(id) ?? 1) - 1;
    if (count <= 0) this.counts.delete(id);
    else this.counts.set(id, count);
  }
  has(id: string): boolean {
    return this.counts.has(id);
  }
}
