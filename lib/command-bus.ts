/**
 * The caller's side of the command protocol (contract/commands.ts): push a command onto the inbox of the host that
 * owns a session, and wait for its reply on this process's own pub/sub channel until the deadline.
 *
 * Why a list for commands and pub/sub for replies: a list hands each command to exactly one BRPOP, once, and keeps
 * it while the host is busy; a command is never taken twice, so never run twice. Replies only matter to a caller
 * that is still waiting, so a fire-and-forget channel per caller process is enough, and one subscription serves
 * any number of requests in flight (no blocked connection per request).
 */
import { randomUUID } from 'node:crypto';
import {
  commandReplySchema,
  commandResultSchemas,
  protocolVersion,
  type CommandEnvelope,
  type Command,
  type CommandOf,
  type CommandResult,
  type CommandType,
} from '../contract/commands.js';
import { ServiceError } from '../contract/errors.js';
import type { RedisKeys } from '../contract/redis-keys.js';
import type { Logger } from './logger.js';
import { whenRedisReady, type Redis } from './redis.js';
import { hostKeyParts, pushCommandScript, routeCommandScript } from './redis-scripts.js';

/**
 * Why `requestSession` did not send its command (nothing was pushed): no such session, no live host holds it, or it
 * is not in the status asked. `record` is the session's stored record (JSON), for the caller's error.
 */
export class CommandNotRouted extends Error {
  override readonly name = 'CommandNotRouted';
  constructor(
    readonly reason: 'not-found' | 'no-live-owner' | 'wrong-status',
    readonly sessionId: string,
    readonly record: string | null,
  ) {
    super(`command for session '${sessionId}' not routed: ${reason}`);
  }
}

interface PendingRequest {
  type: CommandType;
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export interface CommandTarget {
  hostId: string;
  sessionId: string;
}

export interface CommandBusOptions {
  redis: Redis;
  /** A connection of its own: a subscribed ioredis connection can run no other command. */
  subscriber: Redis;
  keys: RedisKeys;
  /** Names this process's reply channel; unique per process. */
  callerId?: string;
  logger: Logger;
  /** How long to wait for a Redis that is reconnecting before answering SERVICE_UNAVAILABLE. */
  redisWaitMs?: number;
}

/** An unanswered inbox expires this long after its last command: a host that never comes back leaves no litter. */
const inboxTtlMs = 10 * 60_000;

export class CommandBus {
  private readonly pending = new Map<string, PendingRequest>();
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly keys: RedisKeys;
  private readonly logger: Logger;
  private readonly channel: string;
  private readonly redisWaitMs: number;
  private subscribed: Promise<void> | undefined;
  private closed = false;

  constructor(options: CommandBusOptions) {
    this.redis = options.redis;
    this.subscriber = options.subscriber;
    this.keys = options.keys;
    this.logger = options.logger;
    this.redisWaitMs = options.redisWaitMs ?? 1_000;
    this.channel = this.keys.replies(options.callerId ?? randomUUID());
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Sends `command` and resolves with its validated result, or rejects with the host's error or TIMEOUT.
   * `traceId` (the caller's request id) goes into the host's logs; replies are matched on an id of the bus's own,
   * since two requests may carry the same x-request-id.
   */
  async request<T extends CommandType>(
    target: CommandTarget,
    command: CommandOf<T>,
    timeoutMs: number,
    traceId?: string,
  ): Promise<CommandResult<T>> {
    return this.send(target.sessionId, command, timeoutMs, traceId, (envelope) => this.push(target.hostId, envelope));
  }

  /** Waits for the reply to a command that `deliver` pushes; a `CommandNotRouted` from `deliver` is passed on as is. */
  private async send<T extends CommandType>(
    sessionId: string,
    command: CommandOf<T>,
    timeoutMs: number,
    traceId: string | undefined,
    deliver: (envelope: CommandEnvelope) => Promise<void>,
  ): Promise<CommandResult<T>> {
    if (this.closed) throw new ServiceError('SERVICE_UNAVAILABLE', 'The command bus is closed.');
    await this.ensureSubscribed();
    // The subscription is made once, but the connection may have dropped since (a thawed Lambda): wait for it.
    await whenRedisReady(this.subscriber, this.redisWaitMs);
    const requestId = randomUUID();
    const deadline = Date.now() + timeoutMs;
    const envelope: CommandEnvelope = {
      v: protocolVersion,
      requestId,
      sessionId,
      deadline,
      ...(traceId === undefined ? {} : { traceId }),
      replyTo: this.channel,
      // A CommandOf<T> is one member of the Command union; TypeScript cannot see that through the generic.
      command: command as Command,
    };
    const reply = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(
          new ServiceError('TIMEOUT', `The session host did not answer within ${timeoutMs} ms.`, {
            details: { timeoutMs },
          }),
        );
      }, timeoutMs);
      this.pending.set(requestId, { type: command.type, resolve, reject, timer });
    });
    try {
      await deliver(envelope);
    } catch (error) {
      this.settle(requestId)?.reject(error instanceof CommandNotRouted ? error : asUnavailable(error));
    }
    return (await reply) as CommandResult<T>;
  }

  /**
   * `request` to whichever live host owns `sessionId`, found and pushed to in one Redis round trip (route-command-2;
   * two on a Redis Cluster, where the session and its owner's inbox are in different slots: push-command-2):
   * rejects with `CommandNotRouted` (nothing sent) when there is no such session, no live owner, or (with
   * `status`) the session is not in that status; else as `request`.
   */
  async requestSession<T extends CommandType>(
    sessionId: string,
    command: CommandOf<T>,
    timeoutMs: number,
    options: { traceId?: string; status?: string } = {},
  ): Promise<CommandResult<T>> {
    return this.send(sessionId, command, timeoutMs, options.traceId, async (envelope) => {
      await whenRedisReady(this.redis, this.redisWaitMs);
      if (!this.redis.isCluster) {
        // One server: lookup, liveness, status and push in one round trip.
        const { before, hostAfter, inboxAfter } = hostKeyParts(this.keys);
        const reply = await routeCommandScript.run(
          this.redis,
          [this.keys.session(sessionId), this.keys.sessionOwner(sessionId)],
          [before, hostAfter, inboxAfter, JSON.stringify(envelope), inboxTtlMs, options.status ?? ''],
        );
        const [outcome, value] = Array.isArray(reply) ? (reply as unknown[]) : [];
        if (outcome === 3) return;
        const found = typeof value === 'string' ? value : null;
        throw new CommandNotRouted(outcome === 0 ? 'not-found' : outcome === 1 ? 'no-live-owner' : 'wrong-status', sessionId, found);
      }
      // A Cluster: the session's keys and its owner's are in two hash slots. Read the record and owner (one MGET in
      // the session's slot), then push-command-2 pushes in the owner's slot only while its heartbeat is live. An
      // owner that hands the session over between the two gets the command and answers 503 (as for a command
      // already queued when a session moves); a dead one gets nothing pushed.
      const [record = null, owner = null] = await this.redis.mget(this.keys.session(sessionId), this.keys.sessionOwner(sessionId));
      if (record === null) throw new CommandNotRouted('not-found', sessionId, null);
      if (owner === null) throw new CommandNotRouted('no-live-owner', sessionId, record);
      if (options.status !== undefined && options.status !== '' && statusOf(record) !== options.status) {
        // A dead owner first: no live owner (503) says more than a status it can no longer change.
        const alive = (await this.redis.exists(this.keys.host(owner))) === 1;
        throw new CommandNotRouted(alive ? 'wrong-status' : 'no-live-owner', sessionId, record);
      }
      const pushed = await pushCommandScript.run(this.redis, [this.keys.host(owner), this.keys.hostInbox(owner)], [JSON.stringify(envelope), inboxTtlMs]);
      if (pushed !== 1) throw new CommandNotRouted('no-live-owner', sessionId, record);
    });
  }

  /** Sends a command nobody waits for (between hosts). It is dropped unrun if not taken within `ttlMs`. */
  async post<T extends CommandType>(target: CommandTarget, command: CommandOf<T>, ttlMs: number): Promise<void> {
    await this.push(target.hostId, {
      v: protocolVersion,
      requestId: randomUUID(),
      sessionId: target.sessionId,
      deadline: Date.now() + ttlMs,
      replyTo: null,
      command: command as Command,
    });
  }

  /** Rejects whatever still waits and stops listening. The connections belong to the caller. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [requestId, pending] of this.pending) {
      clearTimeout(pending.timer);
      this.pending.delete(requestId);
      pending.reject(new ServiceError('SERVICE_UNAVAILABLE', 'The command bus closed before the reply came.'));
    }
    this.subscriber.off('message', this.onMessage);
    if (this.subscribed !== undefined && this.subscriber.status === 'ready') {
      await this.subscriber.unsubscribe(this.channel).catch(() => undefined);
    }
  }

  private async push(hostId: string, envelope: CommandEnvelope): Promise<void> {
    await whenRedisReady(this.redis, this.redisWaitMs);
    const inbox = this.keys.hostInbox(hostId);
    await this.redis.multi().lpush(inbox, JSON.stringify(envelope)).pexpire(inbox, inboxTtlMs).exec();
  }

  private ensureSubscribed(): Promise<void> {
    this.subscribed ??= (async () => {
      await whenRedisReady(this.subscriber, this.redisWaitMs);
      this.subscriber.on('message', this.onMessage);
      // A subscription that never completes would hold every request of this process: bound it too.
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          this.subscriber.subscribe(this.channel),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('Command timed out: SUBSCRIBE')), this.redisWaitMs + 2_000);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    })().catch((error: unknown) => {
      this.subscriber.off('message', this.onMessage);
      this.subscribed = undefined;
      throw asUnavailable(error);
    });
    return this.subscribed;
  }

  private readonly onMessage = (channel: string, raw: string): void => {
    if (channel !== this.channel) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      this.logger.warn({ channel }, 'dropped a reply that is not JSON');
      return;
    }
    const reply = commandReplySchema.safeParse(parsed);
    if (!reply.success) {
      this.logger.warn({ channel }, 'dropped a reply that does not match the protocol');
      return;
    }
    const { requestId } = reply.data;
    const pending = this.settle(requestId);
    if (pending === undefined) {
      // The caller gave up (TIMEOUT) before the host answered: nobody is left to tell.
      this.logger.debug({ requestId }, 'dropped a reply that came after its deadline');
      return;
    }
    if (!reply.data.ok) {
      pending.reject(ServiceError.fromBody(reply.data.error));
      return;
    }
    const result = commandResultSchemas[pending.type].safeParse(reply.data.result);
    if (result.success) pending.resolve(result.data);
    else {
      this.logger.error({ requestId, issues: result.error.issues }, 'the session host answered an invalid result');
      pending.reject(new ServiceError('INTERNAL', 'The session host answered something this service cannot read.'));
    }
  };

  private settle(requestId: string): PendingRequest | undefined {
    const pending = this.pending.get(requestId);
    if (pending === undefined) return undefined;
    clearTimeout(pending.timer);
    this.pending.delete(requestId);
    return pending;
  }
}

function asUnavailable(error: unknown): Error {
  if (error instanceof ServiceError) return error;
  return new ServiceError('SERVICE_UNAVAILABLE', 'Redis is not reachable right now.', { cause: error });
}

/** The `status` of a stored session record (JSON), or null when it has none. */
function statusOf(record: string): string | null {
  try {
    const parsed: unknown = JSON.parse(record);
    return typeof parsed === 'object' && parsed !== null && 'status' in parsed && typeof parsed.status === 'string' ? parsed.status : null;
  } catch {
    return null;
  }
}
