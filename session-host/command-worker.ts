/**
 * Takes commands from this host's inbox (a Redis list), runs each once, and publishes the reply to the caller.
 *
 * - A command whose deadline has passed is dropped unrun: its caller was told TIMEOUT and must not be surprised
 *   later by, say, a message it gave up on.
 * - Commands of one session run one at a time, in the order they were pushed; different sessions run in parallel,
 *   at most `concurrency` at once.
 * - `ws.*` commands (a WebSocket client's `resume`) are about a connection, not the session's client: they run at
 *   once, outside the session's chain, so that they never wait behind the session's commands nor hold them up
 *   (their handler only queues the work on the connection's own queue and returns).
 * - `stuck()` tells how many commands have been in flight for more than twice the time their caller gave them:
 *   when they take every slot, the host takes no work, and says so (health, heartbeat).
 * - `stop()` stops taking commands and waits (bounded) for those in flight, for a graceful shutdown.
 */
import { commandEnvelopeSchema, type CommandEnvelope, type CommandReply } from '../contract/commands.js';
import { ServiceError } from '../contract/errors.js';
import type { RedisKeys } from '../contract/redis-keys.js';
import { deadlineSignal, sleep, TimeoutError } from '../lib/async.js';
import type { Logger } from '../lib/logger.js';
import type { Redis } from '../lib/redis.js';

/** What a handler gets besides the command: the caller's deadline, and a signal that aborts when it passes. */
export interface CommandContext {
  deadline: number;
  signal: AbortSignal;
}

export type CommandHandler = (envelope: CommandEnvelope, context: CommandContext) => Promise<unknown>;

export interface CommandWorkerOptions {
  /** Used for BRPOP only: a blocked connection can do nothing else. */
  blockingRedis: Redis;
  /** Publishes replies. */
  redis: Redis;
  keys: RedisKeys;
  hostId: string;
  handler: CommandHandler;
  logger: Logger;
  concurrency: number;
  now?: () => number;
}

/** How long one BRPOP blocks: bounds how long `stop()` waits for the loop to notice. */
const blockSeconds = 1;
/** After a BRPOP wakes up, take up to this many more at once: fewer round trips under load. */
const batchSize = 100;
/** The least time a command counts as given, for `stuck()`: one taken just before its deadline may still run a bit. */
const minimumBudgetMs = 1_000;

export class CommandWorker {
  private readonly options: CommandWorkerOptions;
  private readonly inbox: string;
  private readonly perSession = new Map<string, Promise<void>>();
  private readonly now: () => number;
  private running = false;
  private loop: Promise<void> | undefined;
  private inFlight = 0;
  private slotFreed: (() => void) | undefined;
  /** Every command taken and not finished (waiting behind its session's, or running), with when it counts as stuck. */
  private readonly accepted = new Map<CommandEnvelope, { sessionId: string; type: string; acceptedAt: number; stuckAt: number }>();
  private readonly outsideChains = new Set<Promise<void>>();

  constructor(options: CommandWorkerOptions) {
    this.options = options;
    this.inbox = options.keys.hostInbox(options.hostId);
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops taking commands; resolves when those in flight have finished, or after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<void> {
    this.running = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([
      (async () => {
        await this.loop;
        await Promise.all([...this.perSession.values(), ...this.outsideChains]);
      })(),
      deadline,
    ]);
    clearTimeout(timer);
  }

  private async run(): Promise<void> {
    const { blockingRedis, logger } = this.options;
    let failures = 0;
    while (this.running) {
      try {
        await this.waitForSlot();
        if (!this.running) break;
        const popped = await blockingRedis.brpop(this.inbox, blockSeconds);
        if (popped === null) continue;
        // Start the first command before asking for more: the batch costs a round trip it must not wait on.
        this.accept(popped[1]);
        const more = await blockingRedis.rpop(this.inbox, batchSize);
        for (const raw of more ?? []) this.accept(raw);
        failures = 0;
      } catch (error) {
        failures += 1;
        // Redis is away: ioredis reconnects by itself; wait a little so the loop does not spin.
        if (failures === 1 || failures % 50 === 0) logger.warn({ err: error, failures }, 'cannot read the command inbox');
        await sleep(Math.min(100 * failures, 1_000));
      }
    }
  }

  private accept(raw: string): void {
    const { logger } = this.options;
    let envelope: CommandEnvelope;
    try {
      const parsed = commandEnvelopeSchema.safeParse(JSON.parse(raw));
      if (!parsed.success) {
        logger.error({ issues: parsed.error.issues }, 'dropped a command that does not match the protocol');
        return;
      }
      envelope = parsed.data;
    } catch {
      logger.error('dropped a command that is not JSON');
      return;
    }
    this.inFlight += 1;
    const acceptedAt = this.now();
    // Stuck: still in flight after twice the time its caller gave it (at least a second, for commands taken late).
    const stuckAt = acceptedAt + 2 * Math.max(envelope.deadline - acceptedAt, minimumBudgetMs);
    this.accepted.set(envelope, { sessionId: envelope.sessionId, type: envelope.command.type, acceptedAt, stuckAt });
    const finished = () => {
      this.inFlight -= 1;
      this.accepted.delete(envelope);
      this.slotFreed?.();
    };
    if (envelope.command.type.startsWith('ws.')) {
      const current = this.execute(envelope);
      this.outsideChains.add(current);
      void current.finally(() => {
        this.outsideChains.delete(current);
        finished();
      });
      return;
    }
    const previous = this.perSession.get(envelope.sessionId) ?? Promise.resolve();
    const current = previous.then(() => this.execute(envelope));
    this.perSession.set(envelope.sessionId, current);
    void current.finally(() => {
      if (this.perSession.get(envelope.sessionId) === current) this.perSession.delete(envelope.sessionId);
      finished();
    });
  }

  /** Whether a command of the session is queued or running here (such a session is never moved). */
  busy(sessionId: string): boolean {
    return this.perSession.has(sessionId);
  }

  /**
   * The commands in flight past twice their caller's deadline (running, or waiting behind one of their session's
   * that is), the oldest first; `slots` is how many commands may be in flight at once.
   */
  stuck(): { slots: number; inFlight: number; stuck: Array<{ sessionId: string; type: string; inFlightMs: number }> } {
    const now = this.now();
    const stuck = [...this.accepted.values()]
      .filter((command) => now > command.stuckAt)
      .sort((a, b) => a.acceptedAt - b.acceptedAt)
      .map((command) => ({ sessionId: command.sessionId, type: command.type, inFlightMs: now - command.acceptedAt }));
    return { slots: this.options.concurrency, inFlight: this.inFlight, stuck };
  }

  /** Null while the worker can take work; else why it cannot: every slot is held by a stuck command. */
  problem(): string | null {
    const { slots, stuck } = this.stuck();
    if (stuck.length < slots) return null;
    const oldest = stuck[0];
    return (
      `all ${slots} command slots are held by commands stuck past twice their deadline` +
      (oldest === undefined ? '' : ` (oldest: ${oldest.type} of session ${oldest.sessionId}, in flight for ${oldest.inFlightMs} ms)`)
    );
  }

  private async execute(envelope: CommandEnvelope): Promise<void> {
    const logger = this.options.logger.child({
      requestId: envelope.traceId ?? envelope.requestId,
      sessionId: envelope.sessionId,
      command: envelope.command.type,
    });
    if (this.now() > envelope.deadline) {
      logger.warn({ lateByMs: this.now() - envelope.deadline }, 'dropped a command whose deadline had passed');
      return;
    }
    let reply: CommandReply;
    // The caller's deadline travels down to the engine call, which is abandoned (its timers cleared) when it passes.
    const deadline = deadlineSignal(envelope.deadline, `${envelope.command.type} of session ${envelope.sessionId}`, this.now);
    try {
      const result = await this.options.handler(envelope, { deadline: envelope.deadline, signal: deadline.signal });
      reply = { requestId: envelope.requestId, ok: true, result };
    } catch (error) {
      if (error instanceof TimeoutError) {
        reply = { requestId: envelope.requestId, ok: false, error: { code: 'TIMEOUT', message: `${error.message}; the session host gave up.` } };
      } else if (error instanceof ServiceError) {
        reply = { requestId: envelope.requestId, ok: false, error: error.toBody() };
      } else {
        logger.error({ err: error }, 'a command failed');
        reply = {
          requestId: envelope.requestId,
          ok: false,
          error: { code: 'INTERNAL', message: `The session host failed to run the command (request ${envelope.requestId}).` },
        };
      }
    } finally {
      deadline.dispose();
    }
    if (envelope.replyTo === null) return;
    try {
      await this.options.redis.publish(envelope.replyTo, JSON.stringify(reply));
    } catch (error) {
      logger.error({ err: error }, 'could not publish a reply');
    }
  }

  private async waitForSlot(): Promise<void> {
    while (this.inFlight >= this.options.concurrency && this.running) {
      await new Promise<void>((resolve) => {
        this.slotFreed = resolve;
      });
      this.slotFreed = undefined;
    }
  }
}

