/**
 * The atomic multi-key steps of the service, as Lua scripts: each is a file `lib/lua/<what>-<number of keys>.lua`
 * (BullMQ's habit) whose header documents KEYS, ARGV and the reply, loaded here and only here (through
 * lib/lua/scripts.generated.ts, which `npm run generate:lua` writes from the files, so bundles read no file at run
 * time). Each runs by EVALSHA with an EVAL fallback.
 */
import { createHash } from 'node:crypto';
import { luaSources } from './lua/scripts.generated.js';
import type { Redis } from './redis.js';

export class RedisScript {
  readonly sha1: string;
  readonly numberOfKeys: number;
  readonly lua: string;

  /** `name` is the file's name in lib/lua without `.lua`; its last part is how many keys the script takes. */
  constructor(readonly name: string) {
    const lua = luaSources[name];
    const numberOfKeys = Number(/-(\d+)$/.exec(name)?.[1]);
    if (lua === undefined || !Number.isInteger(numberOfKeys)) {
      throw new Error(`No Lua script lib/lua/${name}.lua (named <what>-<number of keys>); run npm run generate:lua`);
    }
    this.lua = lua;
    this.numberOfKeys = numberOfKeys;
    this.sha1 = createHash('sha1').update(lua).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    if (keys.length !== this.numberOfKeys) {
      throw new Error(`${this.name} takes ${this.numberOfKeys} keys, got ${keys.length}`);
    }
    try {
      return await redis.evalsha(this.sha1, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}

/** read-session-2: one session's record, its owner, and whether that owner's heartbeat is live, in one round trip. (lib/lua/read-session-2.lua) */
export const readSessionScript = new RedisScript('read-session-2');

/** create-session-3: records a new session owned by the calling host, unless the id is taken. (lib/lua/create-session-3.lua) */
export const createSessionScript = new RedisScript('create-session-3');

/** claim-session-2: takes ownership of a session when it has no owner, when the caller owns it already, or when (lib/lua/claim-session-2.lua) */
export const claimSessionScript = new RedisScript('claim-session-2');

/** save-session-2: writes a session record, only while the caller still owns the session (a host that lost its (lib/lua/save-session-2.lua) */
export const saveSessionScript = new RedisScript('save-session-2');

/** host-heartbeat-3: one heartbeat of a session host, only while it holds the lease on its host id. Renews the lease (lib/lua/host-heartbeat-3.lua) */
export const hostHeartbeatScript = new RedisScript('host-heartbeat-3');

/** host-withdraw-3: withdraws a session host (its lease, its host key, its index entry), only while it holds the lease: (lib/lua/host-withdraw-3.lua) */
export const hostWithdrawScript = new RedisScript('host-withdraw-3');

/** place-session-2: picks the live host of an engine with the least load for a new session, and counts the (lib/lua/place-session-2.lua) */
export const placeSessionScript = new RedisScript('place-session-2');

/** disown-session-1: gives up this host's claim on a session (to move it to another host), only while it is ours. (lib/lua/disown-session-1.lua) */
export const disownSessionScript = new RedisScript('disown-session-1');

/** append-event-once-2: appends an event to a session's log unless an event with the same key was appended within (lib/lua/append-event-once-2.lua) */
export const appendEventOnceScript = new RedisScript('append-event-once-2');

/** record-webhook-delivery-5: stores one delivery's state and files it under its status, keeping the newest `cap` of (lib/lua/record-webhook-delivery-5.lua) */
export const recordWebhookDeliveryScript = new RedisScript('record-webhook-delivery-5');

/** advance-webhook-cursor-1: moves a (webhook, session) cursor to the event just delivered (or given up), only if it (lib/lua/advance-webhook-cursor-1.lua) */
export const advanceWebhookCursorScript = new RedisScript('advance-webhook-cursor-1');

/** rewind-webhook-cursor-1: for `replay`, moves a (webhook, session) cursor back to `after`, never forward (a pair (lib/lua/rewind-webhook-cursor-1.lua) */
export const rewindWebhookCursorScript = new RedisScript('rewind-webhook-cursor-1');

/** release-if-owner-1: deletes a simulated phone or LID claim only while it is still that session's. */
export const releaseIfOwnerScript = new RedisScript('release-if-owner-1');

/** mailbox-done-2: drops delivered items from a simulated mailbox; an empty one leaves the pending set. */
export const mailboxDoneScript = new RedisScript('mailbox-done-2');

/** route-command-2: session lookup, owner liveness (and status) and the push onto the owner's inbox, in one round trip. (lib/lua/route-command-2.lua) */
export const routeCommandScript = new RedisScript('route-command-2');
