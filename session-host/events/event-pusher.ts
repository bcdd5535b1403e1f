/**
 * Delivers each event of this host's sessions to every WebSocket connection that follows the session.
 *
 * Each connection has its own queue, worked one frame at a time: a connection gets its events in id order, and a
 * slow or gone client never holds up the others. A gone connection (HTTP 410) is removed from the registry at its
 * first failed post; throttling and server errors are retried with capped exponential backoff and jitter.
 *
 * `resume` runs in the same queue as the live events of that connection, so the seam between replay and live
 * stream has neither gap nor duplicate: live events already queued for that session are dropped (the replay reads
 * them from the log), and every live event at or below the last replayed id is skipped. Each connection remembers,
 * per session, the span of ids it has been sent (live events of a session reach a connection without a hole), so
 * a client whose live stream had begun before it asked to resume is not sent that span twice.
 *
 * A connection that asked for batching (`?batch=1`, `batching` in the registry, read once per queue) gets its events in
 * `batch` frames: each post carries every live event queued for it, in order, as many as fit in one 32 KB frame, so a
 * connection's throughput no longer ends at one event per post round trip. Its replays are batched the same way. An
 * event whose frame alone is larger than a batch frame may be goes alone as a plain event frame (truncated at 128 KB
 * as for everyone).
 *
 * A replay belongs to its connection only: it runs on that connection's queue, never on a session's command queue
 * (the `ws.resume` command just starts it), and it ends with the connection: the replay answers the client itself,
 * `resumed` after the last replayed event or an `error` frame naming the action, and every way out of it settles
 * the promise `resume` returned (a connection gone mid-replay, a frame that keeps failing, a log that cannot be read,
 * a shutdown).
 */
import type { ServiceEvent } from '../../contract/events.js';
import { ServiceError } from '../../contract/errors.js';
import { retryWithBackoff } from '../../lib/backoff.js';
import type { ConnectionPoster, PostOutcome } from '../../lib/connection-poster.js';
import type { Logger } from '../../lib/logger.js';
import type { ConnectionRegistry } from '../../lib/ws-connections.js';
import type { ResumeHandler } from '../command-handlers.js';
import { maxBatchFrameBytes, type ErrorFrame, type ResumedFrame, type WsErrorCode } from '../../contract/ws-frames.js';
import { compareStreamIds, type EventLog } from './event-log.js';
import type { HostMetrics } from '../metrics.js';

/** API Gateway refuses a WebSocket frame over 128 KB; stay a little under it. */
export const maxFrameBytes = 128 * 1024 - 512;
const replayPageSize = 500;

export interface EventPusherOptions {
  events: Pick<EventLog, 'onAppended' | 'readAfter'>;
  /** `batching` absent: no connection batches. */
  connections: Pick<ConnectionRegistry, 'recipients' | 'follow' | 'remove'> & Partial<Pick<ConnectionRegistry, 'batching'>>;
  poster: ConnectionPoster;
  logger: Logger;
  /** Attempts of one post that answers throttling or a server error. */
  maxAttempts?: number;
  /** First retry delay; doubles up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Counts each frame posted, by outcome (metrics.ts). */
  metrics?: Pick<HostMetrics, 'eventPosted'>;
}

export interface ResumeOutcome {
  replayed: number;
  expired: boolean;
}

type Job =
  /** `previousId`: the session's event dispatched just before this one (null for the first this host saw). */
  | { kind: 'live'; event: ServiceEvent; previousId: string | null }
  | {
      kind: 'resume';
      sessionId: string;
      after: string;
      done: (outcome: ResumeOutcome) => void;
      fail: (error: unknown) => void;
    };

/** Why a replay ended early: the connection is gone, or a frame to it kept failing. */
class ReplayEnded extends Error {
  constructor(
    readonly reason: 'gone' | 'failing' | 'stopped',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Every event of the session with `first` ≤ id ≤ `last` has been sent to the connection: a span grows only by the
 * event that directly follows its last one, so a hole (a frame dropped, a recipient look-up that failed, a pause in
 * the subscription) starts a new span instead, and a later resume replays what fell into the hole.
 */
interface SentSpan {
  first: string;
  last: string;
}

interface ConnectionQueue {
  jobs: Job[];
  working: boolean;
  sent: Map<string, SentSpan>;
  touchedAt: number;
  /** Whether the connection takes `batch` frames; looked up when its worker first runs. */
  batch: boolean | undefined;
}

/** API Gateway closes a connection after two hours at most: what is older than that is forgotten. */
const forgetIdleAfterMs = 2 * 60 * 60 * 1000;

export class EventPusher implements ResumeHandler {
  private readonly queues = new Map<string, ConnectionQueue>();
  private readonly options: Required<Omit<EventPusherOptions, 'events' | 'connections' | 'poster' | 'logger' | 'metrics'>> &
    EventPusherOptions;
  private unsubscribe: (() => void) | undefined;
  /** Set once `stop` has waited its time: replays end at their next frame, new resumes are refused. */
  private stopped = false;
  private sweeper: NodeJS.Timeout | undefined;
  /** Per session: recipient look-ups run in order within a session, in parallel across sessions. */
  private readonly dispatching = new Map<string, Promise<void>>();
  /**
   * Per session, while its dispatch loop runs: the events appended since its last look-up began. They share the next
   * look-up (one SUNION for all of them), so a busy session costs one look-up per round trip, not one per event.
   */
  private readonly undispatched = new Map<string, ServiceEvent[]>();
  /** Per session: the id of the last event dispatched. */
  private readonly lastDispatched = new Map<string, string>();

  constructor(options: EventPusherOptions) {
    this.options = { maxAttempts: 6, backoffMs: 50, maxBackoffMs: 2_000, ...options };
  }

  start(): void {
    this.unsubscribe ??= this.options.events.onAppended((event) => {
      // Recipients are looked up in order within a session, so its events are queued in id order; events appended
      // while a look-up is in flight wait for the next one, together.
      const waiting = this.undispatched.get(event.sessionId);
      if (waiting !== undefined) {
        waiting.push(event);
        return;
      }
      this.undispatched.set(event.sessionId, [event]);
      const loop = this.dispatchLoop(event.sessionId);
      this.dispatching.set(event.sessionId, loop);
      void loop.then(() => {
        if (this.dispatching.get(event.sessionId) === loop) this.dispatching.delete(event.sessionId);
      });
    });
    // Connections that closed normally ($disconnect) are never heard of again here: forget them once surely gone.
    this.sweeper ??= setInterval(() => {
      const cutoff = Date.now() - forgetIdleAfterMs;
      for (const [connectionId, queue] of this.queues) {
        if (!queue.working && queue.touchedAt < cutoff) this.queues.delete(connectionId);
      }
    }, 10 * 60 * 1000);
    this.sweeper.unref();
  }

  /**
   * Stops taking new events; waits (bounded) for the queues to drain. What is still replaying then ends at its next
   * frame, and every resume still queued is failed: no caller is left waiting on a host that is going away.
   */
  async stop(timeoutMs: number): Promise<void> {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    const started = Date.now();
    await Promise.race([Promise.all(this.dispatching.values()), sleep(timeoutMs)]);
    while ([...this.queues.values()].some((queue) => queue.working) && Date.now() - started < timeoutMs) {
      await sleep(20);
    }
    this.stopped = true;
    for (const queue of this.queues.values()) {
      for (const job of queue.jobs) {
        if (job.kind === 'resume') job.fail(new ServiceError('SESSION_HOST_UNAVAILABLE', 'The session host is shutting down.'));
      }
      queue.jobs = [];
    }
  }

  /**
   * Replays the events of `sessionId` after `after` to the connection, on the connection's own queue, then the live
   * ones. The client is answered by the replay itself: `resumed` with the counts when it is done, or an `error` frame
   * (action `resume`) when it failed and the connection can still be reached. The promise settles on every path:
   * with the counts, or with the error (a `ServiceError`; `NOT_FOUND` when the connection is gone or unregistered).
   */
  resume(connectionId: string, sessionId: string, after: string): Promise<ResumeOutcome> {
    const outcome = new Promise<ResumeOutcome>((done, fail) => {
      if (this.stopped) {
        fail(new ServiceError('SESSION_HOST_UNAVAILABLE', 'The session host is shutting down.'));
        return;
      }
      const queue = this.queueOf(connectionId);
      // Live events of this session still waiting are covered by the replay (or the client has them already).
      queue.jobs = queue.jobs.filter((job) => job.kind !== 'live' || job.event.sessionId !== sessionId);
      queue.jobs.push({ kind: 'resume', sessionId, after, done, fail });
    });
    this.work(connectionId);
    return outcome;
  }

  /**
   * `resume` for the `ws.resume` command: starts the replay and returns at once; the replay answers the client
   * itself, so nothing waits for it (and nothing can be held up by it).
   */
  startResume(connectionId: string, sessionId: string, after: string): void {
    this.resume(connectionId, sessionId, after).then(
      (outcome) => this.options.logger.info({ connectionId, sessionId, after, ...outcome }, 'resumed'),
      (error: unknown) =>
        this.options.logger.info(
          { connectionId, sessionId, after, reason: error instanceof Error ? error.message : String(error) },
          'a resume ended without completing',
        ),
    );
  }

  /** Dispatches the session's events until none is waiting: each round, all that came meanwhile, with one look-up. */
  private async dispatchLoop(sessionId: string): Promise<void> {
    for (;;) {
      const events = this.undispatched.get(sessionId) ?? [];
      if (events.length === 0) {
        this.undispatched.delete(sessionId);
        return;
      }
      this.undispatched.set(sessionId, []);
      await this.dispatch(sessionId, events);
    }
  }

  /** `events`: of one session, in id order. The recipients are looked up after the last of them was appended. */
  private async dispatch(sessionId: string, events: ServiceEvent[]): Promise<void> {
    const jobs = events.map((event) => {
      const previousId = this.lastDispatched.get(sessionId) ?? null;
      this.lastDispatched.set(sessionId, event.id);
      return { kind: 'live' as const, event, previousId };
    });
    let recipients: string[];
    try {
      recipients = await this.options.connections.recipients(sessionId);
    } catch (error) {
      this.options.logger.error({ err: error, sessionId, eventIds: events.map((event) => event.id) }, 'could not look up recipients');
      return;
    }
    for (const connectionId of recipients) {
      this.queueOf(connectionId).jobs.push(...jobs);
      this.work(connectionId);
    }
  }

  private queueOf(connectionId: string): ConnectionQueue {
    let queue = this.queues.get(connectionId);
    if (queue !== undefined) queue.touchedAt = Date.now();
    if (queue === undefined) {
      queue = { jobs: [], working: false, sent: new Map(), touchedAt: Date.now(), batch: undefined };
      this.queues.set(connectionId, queue);
    }
    return queue;
  }

  private work(connectionId: string): void {
    const queue = this.queues.get(connectionId);
    if (queue === undefined || queue.working) return;
    queue.working = true;
    void (async () => {
      try {
        queue.batch ??= await this.batching(connectionId);
        for (let job = queue.jobs.shift(); job !== undefined; job = queue.jobs.shift()) {
          const alive =
            job.kind === 'live'
              ? queue.batch
                ? await this.deliverLiveBatch(connectionId, queue, job)
                : await this.deliverLive(connectionId, queue, job)
              : await this.replay(connectionId, queue, job);
          if (!alive) {
            await this.forget(connectionId, queue);
            return;
          }
        }
      } finally {
        queue.working = false;
        // Nothing queued and nothing to remember: keep no state for idle connections.
        if (queue.jobs.length === 0 && this.queues.get(connectionId) === queue && queue.sent.size === 0) {
          this.queues.delete(connectionId);
        } else if (queue.jobs.length > 0) {
          this.work(connectionId);
        }
      }
    })();
  }

  /** false when the connection is gone. */
  private async deliverLive(connectionId: string, queue: ConnectionQueue, job: Extract<Job, { kind: 'live' }>): Promise<boolean> {
    const { event, previousId } = job;
    const span = queue.sent.get(event.sessionId);
    if (span !== undefined && compareStreamIds(event.id, span.last) <= 0) return true;
    const outcome = await this.post(connectionId, frameOf(event), event.sessionId);
    if (outcome === 'gone') return false;
    if (outcome === 'sent') {
      const follows = span !== undefined && span.last === previousId;
      queue.sent.set(event.sessionId, { first: follows ? span.first : event.id, last: event.id });
    }
    return true;
  }

  /** Whether the connection asked for batching; a failed look-up means no, for this run of its queue only. */
  private async batching(connectionId: string): Promise<boolean | undefined> {
    const lookup = this.options.connections.batching;
    if (lookup === undefined) return false;
    try {
      return await lookup.call(this.options.connections, connectionId);
    } catch (error) {
      this.options.logger.warn({ err: error, connectionId }, 'could not read whether a connection batches; sending single events');
      return undefined;
    }
  }

  /**
   * A batching connection: `first` and the live events queued right after it (up to the next resume), as many as fit
   * in one batch frame, in one post. An event too large for a batch frame goes alone, as a plain frame. false when
   * the connection is gone.
   */
  private async deliverLiveBatch(connectionId: string, queue: ConnectionQueue, first: Extract<Job, { kind: 'live' }>): Promise<boolean> {
    const taken: Array<Extract<Job, { kind: 'live' }>> = [];
    const batch = new BatchBuilder();
    let alone: string | undefined;
    for (let job: Job | undefined = first; job !== undefined && job.kind === 'live'; job = queue.jobs[0]) {
      if (job !== first) queue.jobs.shift();
      const span = queue.sent.get(job.event.sessionId);
      if (span !== undefined && compareStreamIds(job.event.id, span.last) <= 0) continue;
      const frame = frameOf(job.event);
      if (!BatchBuilder.fits(frame)) {
        if (taken.length > 0) {
          queue.jobs.unshift(job); // next post
          break;
        }
        taken.push(job);
        alone = frame;
        break;
      }
      if (!batch.add(frame)) {
        queue.jobs.unshift(job);
        break;
      }
      taken.push(job);
    }
    if (taken.length === 0) return true;
    const outcome = await this.post(connectionId, alone ?? batch.frame(), taken[0]?.event.sessionId ?? '');
    if (outcome === 'gone') return false;
    if (outcome === 'sent') {
      for (const { event, previousId } of taken) {
        const span = queue.sent.get(event.sessionId);
        const follows = span !== undefined && span.last === previousId;
        queue.sent.set(event.sessionId, { first: follows ? span.first : event.id, last: event.id });
      }
    }
    return true;
  }

  /** false when the connection is gone. Settles the job on every path. */
  private async replay(connectionId: string, queue: ConnectionQueue, job: Extract<Job, { kind: 'resume' }>): Promise<boolean> {
    const { sessionId } = job;
    // Every frame of the replay goes through here: a connection that is gone, or keeps failing, ends its own replay.
    const send = async (frame: string) => {
      if (this.stopped) throw new ReplayEnded('stopped', 'The session host is shutting down; resume again from the last event id received.');
      const outcome = await this.post(connectionId, frame, sessionId);
      if (outcome === 'gone') throw new ReplayEnded('gone', 'The connection went away during the replay.');
      if (outcome === 'dropped') {
        throw new ReplayEnded('failing', 'Frames to this connection keep failing; resume again from the last event id received.');
      }
    };
    // A batching connection: replayed events are gathered into batch frames, sent when full and before any other frame.
    const batch = queue.batch === true ? new BatchBuilder() : undefined;
    const flush = async () => {
      if (batch !== undefined && !batch.empty) {
        const frame = batch.frame();
        batch.clear();
        await send(frame);
      }
    };
    const sendEvent = async (frame: string) => {
      if (batch === undefined) return send(frame);
      if (!BatchBuilder.fits(frame)) {
        await flush();
        return send(frame);
      }
      if (batch.add(frame)) return;
      await flush();
      batch.add(frame);
    };
    const span = queue.sent.get(sessionId);
    let cursor = job.after;
    let firstReplayed: string | undefined;
    try {
      // Subscribe before reading the log: an event appended after the read is then sure to be queued live.
      if (!(await this.options.connections.follow(connectionId, sessionId))) {
        throw new ServiceError('NOT_FOUND', 'The connection is not registered (gone or expired).');
      }
      let replayed = 0;
      let expired = false;
      for (let page = 0; ; page += 1) {
        const { events, expired: pageExpired } = await this.options.events.readAfter(sessionId, cursor, replayPageSize);
        if (page === 0 && pageExpired) {
          expired = true;
          await send(
            errorFrame(sessionId, 'EVENTS_EXPIRED', `Events after ${job.after} are no longer kept; replaying from the oldest kept.`),
          );
        }
        for (const event of events) {
          const sentAlready = span !== undefined && compareStreamIds(event.id, span.first) >= 0 && compareStreamIds(event.id, span.last) <= 0;
          if (!sentAlready) {
            await sendEvent(frameOf(event));
            firstReplayed ??= event.id;
            replayed += 1;
          }
          cursor = event.id;
        }
        if (events.length < replayPageSize) break;
      }
      await flush();
      // Everything after `after` up to `cursor` has now been sent.
      this.remember(queue, sessionId, span, firstReplayed, cursor);
      const resumed: ResumedFrame = { event: 'resumed', sessionId, replayed, expired };
      await send(JSON.stringify(resumed));
      job.done({ replayed, expired });
      return true;
    } catch (error) {
      // Keep no span: a later resume then sends again rather than skips (a hole must never be taken for sent).
      queue.sent.delete(sessionId);
      if (error instanceof ReplayEnded) {
        const code = error.reason === 'gone' ? 'NOT_FOUND' : error.reason === 'stopped' ? 'SESSION_HOST_UNAVAILABLE' : 'SERVICE_UNAVAILABLE';
        job.fail(new ServiceError(code, error.message));
        if (error.reason === 'gone') return false;
        // A failing connection may still take one more frame: tell it, once, without retries.
        await this.options.poster.post(connectionId, errorFrame(sessionId, code, error.message, 'resume')).catch(() => 'failed');
        return true;
      }
      const failure =
        error instanceof ServiceError
          ? error
          : new ServiceError('INTERNAL', 'The replay failed on the session host; resume again from the last event id received.', {
              cause: error,
            });
      if (!(error instanceof ServiceError)) this.options.logger.error({ err: error, connectionId, sessionId }, 'a replay failed');
      job.fail(failure);
      const outcome = await this.post(connectionId, errorFrame(sessionId, failure.code, failure.message, 'resume'), sessionId);
      return outcome !== 'gone';
    }
  }

  /** Records that every event of the session from `firstReplayed` (or the span already sent) to `last` was sent. */
  private remember(queue: ConnectionQueue, sessionId: string, span: SentSpan | undefined, firstReplayed: string | undefined, last: string): void {
    const first = [firstReplayed, span?.first].filter((id): id is string => id !== undefined).sort(compareStreamIds)[0];
    const end = [last, span?.last].filter((id): id is string => id !== undefined).sort(compareStreamIds).at(-1);
    if (first !== undefined && end !== undefined) queue.sent.set(sessionId, { first, last: end });
  }

  /** Posts with retries: `dropped` when the frame kept failing (logged), `gone` when the connection is. */
  private async post(connectionId: string, frame: string, sessionId: string): Promise<'sent' | 'dropped' | 'gone'> {
    const { poster, logger, maxAttempts, backoffMs, maxBackoffMs } = this.options;
    let last: PostOutcome = 'retry';
    const result = await retryWithBackoff<PostOutcome>(
      async () => {
        last = await poster.post(connectionId, frame);
        return last === 'retry' ? { kind: 'retry' } : { kind: 'done', value: last };
      },
      { baseMs: backoffMs, maxMs: maxBackoffMs, maxAttempts },
    );
    if (result.kind === 'done' && (result.value === 'sent' || result.value === 'gone')) {
      this.options.metrics?.eventPosted(result.value);
      return result.value;
    }
    this.options.metrics?.eventPosted('dropped');
    logger.error({ connectionId, sessionId, attempt: result.attempts, outcome: last }, 'dropped a frame for a connection that keeps failing');
    return 'dropped';
  }

  private async forget(connectionId: string, queue: ConnectionQueue): Promise<void> {
    for (const job of queue.jobs) if (job.kind === 'resume') job.fail(new ServiceError('NOT_FOUND', 'The connection is gone.'));
    queue.jobs = [];
    queue.sent.clear();
    this.queues.delete(connectionId);
    try {
      await this.options.connections.remove(connectionId);
      this.options.logger.info({ connectionId }, 'removed a gone connection');
    } catch (error) {
      this.options.logger.warn({ err: error, connectionId }, 'could not remove a gone connection');
    }
  }
}

/**
 * The JSON frame of an event. One that would pass API Gateway's 128 KB limit is never posted as is: a message keeps
 * as much of its body as fits and says `"truncated": true` (the whole message stays readable through the REST
 * history route); any other event that is still too large goes out with `data: null` and `"truncated": true`.
 */
export function frameOf(event: ServiceEvent): string {
  const frame = JSON.stringify(event);
  if (Buffer.byteLength(frame) <= maxFrameBytes) return frame;
  if (event.event === 'message') {
    let low = 0;
    let high = event.data.body.length;
    let best = JSON.stringify({ ...event, truncated: true, data: { ...event.data, body: '' } });
    while (low <= high) {
      const middle = Math.floor((low + high) / 2);
      const candidate = JSON.stringify({ ...event, truncated: true, data: { ...event.data, body: event.data.body.slice(0, middle) } });
      if (Buffer.byteLength(candidate) <= maxFrameBytes) {
        best = candidate;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return best;
  }
  return JSON.stringify({ ...event, truncated: true, data: null });
}

const batchHead = '{"event":"batch","events":[';
const batchTail = ']}';

/** Event frames gathered into one `batch` frame (contract/ws-frames.ts) of at most `maxBatchFrameBytes`. */
export class BatchBuilder {
  private frames: string[] = [];
  private bytes = Buffer.byteLength(batchHead) + Buffer.byteLength(batchTail);

  /** Whether an event frame fits in a batch frame at all (alone). */
  static fits(frame: string): boolean {
    return Buffer.byteLength(batchHead) + Buffer.byteLength(frame) + Buffer.byteLength(batchTail) <= maxBatchFrameBytes;
  }

  get empty(): boolean {
    return this.frames.length === 0;
  }

  /** Adds the frame when it fits; false (and nothing added) when it does not. */
  add(frame: string): boolean {
    const added = Buffer.byteLength(frame) + (this.frames.length > 0 ? 1 : 0);
    if (this.bytes + added > maxBatchFrameBytes) return false;
    this.frames.push(frame);
    this.bytes += added;
    return true;
  }

  frame(): string {
    return `${batchHead}${this.frames.join(',')}${batchTail}`;
  }

  clear(): void {
    this.frames = [];
    this.bytes = Buffer.byteLength(batchHead) + Buffer.byteLength(batchTail);
  }
}

/** An `error` frame about a session; `action` names the client action it answers (a resume's failure). */
function errorFrame(sessionId: string, code: WsErrorCode, message: string, action: 'resume' = 'resume'): string {
  const frame: ErrorFrame = { event: 'error', sessionId, action, data: { code, message } };
  return JSON.stringify(frame);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
