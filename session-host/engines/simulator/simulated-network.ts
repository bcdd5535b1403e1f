/**
 * The WhatsApp network the simulator sessions live in. It spans every session host sharing one Redis: a phone
 * number belongs to one simulated session (a Redis key), and a message to it travels as a fire-and-forget
 * command to the host that owns the receiving session, so two sessions on two hosts can talk as on one.
 */
import type { SimulatedWireMessage } from '../../../contract/commands.js';
import type { Ack } from '../../../contract/api.js';
import type { RedisKeys } from '../../../contract/redis-keys.js';
import type { CommandBus } from '../../../lib/command-bus.js';
import type { Redis } from '../../../lib/redis.js';
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
  /** Whether two accounts (by LID) are contacts; `connect` makes them so (once either has messaged the other). */
  areContacts(lidA: string, lidB: string): Promise<boolean>;
  connect(lidA: string, lidB: string): Promise<void>;
  /** Hands a message to the host of `sessionId`; false when no host holds that session now. */
  deliver(sessionId: string, message: SimulatedWireMessage): Promise<boolean>;
  sendAck(sessionId: string, ack: { messageId: string; chatId: string; ack: Ack }): Promise<void>;
}

/** How long a message between hosts may wait in an inbox before it is dropped unrun. */
const wireTtlMs = 60_000;

const releasePhoneLua = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export class RedisSimulatedNetwork implements SimulatedNetwork {
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
    await this.redis.eval(releasePhoneLua, 1, this.keys.simulatorPhone(phone), sessionId);
  }

  async sessionOfPhone(phone: string): Promise<string | null> {
    return this.redis.get(this.keys.simulatorPhone(phone));
  }

  async publishAccount(sessionId: string, account: SimulatedAccount | null): Promise<void> {
    const key = this.keys.simulatorAccount(sessionId);
    if (account === null) {
      const raw = await this.redis.get(key);
      const previous = raw === null ? null : parseAccount(raw);
      if (previous !== null) await this.redis.eval(releasePhoneLua, 1, this.keys.simulatorLid(previous.lid), sessionId);
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

  async areContacts(lidA: string, lidB: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.simulatorContacts, pairOf(lidA, lidB))) === 1;
  }

  async connect(lidA: string, lidB: string): Promise<void> {
    await this.redis.sadd(this.keys.simulatorContacts, pairOf(lidA, lidB));
  }

  private async accountOfSession(sessionId: string | null): Promise<(SimulatedAccount & { sessionId: string }) | null> {
    if (sessionId === null) return null;
    const raw = await this.redis.get(this.keys.simulatorAccount(sessionId));
    const account = raw === null ? null : parseAccount(raw);
    return account === null ? null : { ...account, sessionId };
  }

  async deliver(sessionId: string, message: SimulatedWireMessage): Promise<boolean> {
    const hostId = await this.ownerOf(sessionId);
    if (hostId === null) return false;
    await this.bus.post({ hostId, sessionId }, { type: 'sim.deliver', message }, wireTtlMs);
    return true;
  }

  async sendAck(sessionId: string, ack: { messageId: string; chatId: string; ack: Ack }): Promise<void> {
    const hostId = await this.ownerOf(sessionId);
    if (hostId === null) return;
    await this.bus.post({ hostId, sessionId }, { type: 'sim.ack', ...ack }, wireTtlMs);
  }

  private async ownerOf(sessionId: string): Promise<string | null> {
    return (await this.directory.get(sessionId))?.ownerHostId ?? null;
  }
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
