/**
 * The WhatsApp network the simulator sessions live in. It spans every session host sharing one Redis: a phone
 * number belongs to one simulated session (a Redis key), and what is sent to a session (messages, acks) goes into
 * that session's mailbox, a Redis list that outlives hosts, before the sender's send is answered. The host that runs
 * the receiving session is nudged to deliver it; a host that adopts a session delivers what waits. So a message
 * acknowledged with 201 is delivered even when either host dies: as WhatsApp's servers keep a message for a phone
 * that is off.
 */
import { simulatorControl } from '../../../contract/simulator.js';
import { simulatedMailItemSchema, type SimulatedMailItem } from '../../../contract/commands.js';
import type { RedisKeys } from '../../../contract/redis-keys.js';
import type { CommandBus } from '../../../lib/command-bus.js';
import type { Redis } from '../../../lib/redis.js';
import { mailboxDoneScript, releaseIfOwnerScript } from '../../../lib/redis-scripts.js';
import type { SessionDirectory } from '../../../lib/session-directory.js';

/** A simulated WhatsApp account: its phone digits, its LID digits and its name. */
export interface SimulatedAccount {
  phone: string;
  lid: string;
  pushName: string;
}

export interface SimulatedNetwork {
  /** Takes `phone` for `sessionId`; false when another session has it. */
  claimPhone(phone: string, sessionId: string): Promise<boolean>;
  releasePhone(phone: string, sessionId: string): Promise<void>;
  sessionOfPhone(phone: string): Promise<string | null>;
  /** Publishes the account of a logged-in session (its LID becomes reachable); `null` withdraws it. */
  publishAccount(sessionId: string, account: SimulatedAccount | null): Promise<void>;
  /** The account behind a phone or a LID (digits), or null when no simulated session has it. */
  accountOfPhone(phone: string): Promise<(SimulatedAccount & { sessionId: string }) | null>;
  accountOfLid(lid: string): Promise<(SimulatedAccount & { sessionId: string }) | null>;
  /** The account a simulated session is logged in as, or null. */
  accountOfSession(sessionId: string | null): Promise<(SimulatedAccount & { sessionId: string }) | null>;
  /** Whether two accounts (by LID) are contacts; `connect` makes them so (once either has messaged the other). */
  areContacts(lidA: string, lidB: string): Promise<boolean>;
  connect(lidA: string, lidB: string): Promise<void>;
  /**
   * Puts an item in `sessionId`'s mailbox (durably), then, unless `nudge` is false (the caller runs that session
   * itself), nudges the host that runs it.
   */
  post(sessionId: string, item: SimulatedMailItem, options?: { nudge: boolean }): Promise<void>;
  /** The first `count` items of the session's mailbox, oldest first (`done` takes these same objects back). */
  peek(sessionId: string, count: number): Promise<SimulatedMailItem[]>;
  /** Drops the first `count` items (delivered), marking their keys delivered so a repeat is never shown twice. */
  done(sessionId: string, items: readonly SimulatedMailItem[], deliveredKeys: string[]): Promise<void>;
  /** Which items (by their keys) were delivered already: a host died after delivering them and before `done`. */
  wereDelivered(sessionId: string, itemKeys: string[]): Promise<boolean[]>;
  /** Sessions whose mailbox has something. */
  pendingSessions(): Promise<string[]>;
  /** Empties a session's mailbox (it is logged out or deleted) and answers what was in it. */
  takeAll(sessionId: string): Promise<SimulatedMailItem[]>;
}

/** How long a delivered item's key is remembered: longer than any host takes to come back. */
const deliveredTtlSeconds = 24 * 3_600;


/** How long a nudge may wait in a host's inbox before it is dropped unrun (the sweep covers a dropped one). */
const nudgeTtlMs = 10_000;


export class RedisSimulatedNetwork implements SimulatedNetwork {
  /** Each peeked item's stored form: `done` drops exactly those from the mailbox's head, nothing else. */
  private readonly rawOf = new WeakMap<SimulatedMailItem, string>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly directory: SessionDirectory,
    private readonly bus: CommandBus,
  ) {}

  async claimPhone(phone: string, sessionId: string): Promise<boolean> {
    const key = this.keys.simulatorPhone(phone);
    if ((await this.redis.set(key, sessionId, 'NX')) === 'OK') return true;
    return (await this.redis.get(key)) === sessionId;
  }

  async releasePhone(phone: string, sessionId: string): Promise<void> {
    await releaseIfOwnerScript.run(this.redis, [this.keys.simulatorPhone(phone)], [sessionId]);
  }

  async sessionOfPhone(phone: string): Promise<string | null> {
    return this.redis.get(this.keys.simulatorPhone(phone));
  }

  async publishAccount(sessionId: string, account: SimulatedAccount | null): Promise<void> {
    const key = this.keys.simulatorAccount(sessionId);
    if (account === null) {
      const raw = await this.redis.get(key);
      const previous = raw === null ? null : parseAccount(raw);
      if (previous !== null) {
        await releaseIfOwnerScript.run(this.redis, [this.keys.simulatorLid(previous.lid)], [sessionId]);
        await this.forgetContacts(previous.lid);
      }
      await this.redis.del(key);
      return;
    }
    await this.redis.multi().set(key, JSON.stringify(account)).set(this.keys.simulatorLid(account.lid), sessionId).exec();
  }

  async accountOfPhone(phone: string): Promise<(SimulatedAccount & { sessionId: string }) | null> {
    return this.accountOfSession(await this.sessionOfPhone(phone));
  }

  async accountOfLid(lid: string): Promise<(SimulatedAccount & { sessionId: string }) | null> {
    return this.accountOfSession(await this.redis.get(this.keys.simulatorLid(lid)));
  }

  /** A logged-out account's LID is never used again: its pairs leave the contacts set, which would only grow. */
  private async forgetContacts(lid: string): Promise<void> {
    let cursor = '0';
    do {
      const [next, pairs] = await this.redis.sscan(this.keys.simulatorContacts, cursor, 'MATCH', `*${lid}*`, 'COUNT', 500);
      const mine = pairs.filter((pair) => pair.split(':').includes(lid));
      if (mine.length > 0) await this.redis.srem(this.keys.simulatorContacts, ...mine);
      cursor = next;
    } while (cursor !== '0');
  }

  async areContacts(lidA: string, lidB: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.simulatorContacts, pairOf(lidA, lidB))) === 1;
  }

  async connect(lidA: string, lidB: string): Promise<void> {
    await this.redis.sadd(this.keys.simulatorContacts, pairOf(lidA, lidB));
  }

  async accountOfSession(sessionId: string | null): Promise<(SimulatedAccount & { sessionId: string }) | null> {
    if (sessionId === null) return null;
    const raw = await this.redis.get(this.keys.simulatorAccount(sessionId));
    const account = raw === null ? null : parseAccount(raw);
    return account === null ? null : { ...account, sessionId };
  }

  async post(sessionId: string, item: SimulatedMailItem, options: { nudge: boolean } = { nudge: true }): Promise<void> {
    await this.redis
      .multi()
      .rpush(this.keys.simulatorMailbox(sessionId), JSON.stringify(item))
      .sadd(this.keys.simulatorPending, sessionId)
      .exec();
    if (!options.nudge) return;
    // The nudge is a courtesy: a host that misses it (dead, or adopting right now) finds the item by its sweep.
    const hostId = (await this.directory.get(sessionId))?.ownerHostId ?? null;
    if (hostId !== null) await this.bus.post({ hostId, sessionId }, simulatorControl('drain', {}), nudgeTtlMs);
  }

  async peek(sessionId: string, count: number): Promise<SimulatedMailItem[]> {
    const raws = await this.redis.lrange(this.keys.simulatorMailbox(sessionId), 0, count - 1);
    return raws.map((raw) => {
      const item = parseItem(raw);
      this.rawOf.set(item, raw);
      return item;
    });
  }

  async done(sessionId: string, items: readonly SimulatedMailItem[], deliveredKeys: string[]): Promise<void> {
    const raws = items.map((item) => this.rawOf.get(item)).filter((raw): raw is string => raw !== undefined);
    const pipeline = this.redis.multi();
    for (const itemKey of deliveredKeys) pipeline.set(this.keys.simulatorDelivered(sessionId, itemKey), '1', 'EX', deliveredTtlSeconds);
    pipeline.eval(mailboxDoneScript.lua, 2, this.keys.simulatorMailbox(sessionId), this.keys.simulatorPending, sessionId, ...raws);
    await pipeline.exec();
  }

  async wereDelivered(sessionId: string, itemKeys: string[]): Promise<boolean[]> {
    if (itemKeys.length === 0) return [];
    const marks = await this.redis.mget(itemKeys.map((itemKey) => this.keys.simulatorDelivered(sessionId, itemKey)));
    return marks.map((mark) => mark !== null);
  }

  async pendingSessions(): Promise<string[]> {
    return this.redis.smembers(this.keys.simulatorPending);
  }

  async takeAll(sessionId: string): Promise<SimulatedMailItem[]> {
    const key = this.keys.simulatorMailbox(sessionId);
    const replies = await this.redis.multi().lrange(key, 0, -1).del(key).srem(this.keys.simulatorPending, sessionId).exec();
    const raws = replies?.[0]?.[1];
    return Array.isArray(raws) ? raws.filter((raw): raw is string => typeof raw === 'string').map(parseItem) : [];
  }
}

/** A mailbox item that does not parse is a bug of ours; it is delivered as nothing rather than blocking the mailbox. */
function parseItem(raw: string): SimulatedMailItem {
  const parsed = simulatedMailItemSchema.safeParse(JSON.parse(raw));
  return parsed.success ? parsed.data : { kind: 'ack', messageId: '', chatId: '', ack: 'pending' };
}

function pairOf(a: string, b: string): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

function parseAccount(raw: string): SimulatedAccount | null {
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null) return null;
    const { phone, lid, pushName } = parsed as Record<string, unknown>;
    if (typeof phone !== 'string' || typeof lid !== 'string' || typeof pushName !== 'string') return null;
    return { phone, lid, pushName };
  } catch {
    return null;
  }
}
