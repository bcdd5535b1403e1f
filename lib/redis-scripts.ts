/**
 * The atomic multi-key steps of the service, as Lua scripts: each is a file `lib/lua/<what>-<number of keys>.lua`
 * (BullMQ's habit) whose header documents KEYS, ARGV and the reply, loaded here and only here (through
 * lib/lua/scripts.generated.ts, which `npm run generate:lua` writes from the files, so bundles read no file at run
 * time). Each runs by EVALSHA with an EVAL fallback.
 */
import { createHash } from 'node:crypto';
import { luaSources } from './lua/scripts.generated.js';
import type { RedisKeys } from '../contract/redis-keys.js';
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

/** read-session-2 (one server only): a session's record, owner and owner liveness in one round trip. (lib/lua/read-session-2.lua) */
export const readSessionScript = new RedisScript('read-session-2');

/** route-command-2 (one server only): lookup, owner liveness (and status) and the push onto the owner's inbox, in one round trip. (lib/lua/route-command-2.lua) */
export const routeCommandScript = new RedisScript('route-command-2');

/** create-session-2: records a new session (record and owner) unless the id is taken. (lib/lua/create-session-2.lua) */
export const createSessionScript = new RedisScript('create-session-2');

/** claim-session-2: takes ownership of a session while its owner is still the one read. (lib/lua/claim-session-2.lua) */
export const claimSessionScript = new RedisScript('claim-session-2');

/** save-session-2: writes a session record, only while the caller still owns the session (a host that lost its (lib/lua/save-session-2.lua) */
export const saveSessionScript = new RedisScript('save-session-2');

/** remove-session-4: deletes a session's keys while its owner is still the one read. (lib/lua/remove-session-4.lua) */
export const removeSessionScript = new RedisScript('remove-session-4');

/** host-heartbeat-2: one heartbeat (lease and host key) of a session host, only while it holds the lease. (lib/lua/host-heartbeat-2.lua) */
export const hostHeartbeatScript = new RedisScript('host-heartbeat-2');

/** host-withdraw-2: withdraws a session host (its lease and host key), only while it holds the lease. (lib/lua/host-withdraw-2.lua) */
export const hostWithdrawScript = new RedisScript('host-withdraw-2');

/** place-session-1: the least loaded of the candidate hosts, counting recent placements, and counts this one. (lib/lua/place-session-1.lua) */
export const placeSessionScript = new RedisScript('place-session-1');

/** push-command-2: pushes a command onto a host's inbox while that host's heartbeat is live. (lib/lua/push-command-2.lua) */
export const pushCommandScript = new RedisScript('push-command-2');

/** disown-session-1: gives up this host's claim on a session (to move it to another host), only while it is ours. (lib/lua/disown-session-1.lua) */
export const disownSessionScript = new RedisScript('disown-session-1');

/** record-webhook-delivery-5: stores one delivery's state and files it under its status, keeping the newest `cap` of (lib/lua/record-webhook-delivery-5.lua) */
export const recordWebhookDeliveryScript = new RedisScript('record-webhook-delivery-5');

/** advance-webhook-cursor-1: moves a (webhook, session) cursor to the event just delivered (or given up), only if it (lib/lua/advance-webhook-cursor-1.lua) */
export const advanceWebhookCursorScript = new RedisScript('advance-webhook-cursor-1');

/** rewind-webhook-cursor-1: for `replay`, moves a (webhook, session) cursor back to `after`, never forward (a pair (lib/lua/rewind-webhook-cursor-1.lua) */
export const rewindWebhookCursorScript = new RedisScript('rewind-webhook-cursor-1');

/** release-if-owner-1: deletes a simulated phone or LID claim only while it is still that session's. */
export const releaseIfOwnerScript = new RedisScript('release-if-owner-1');

/** forget-tenant-1: removes a gone session's owner mark, only while it is the settled mark read before the delete. (lib/lua/forget-tenant-1.lua) */
export const forgetTenantScript = new RedisScript('forget-tenant-1');

/** mailbox-done-2: drops delivered items from a simulated mailbox; an empty one leaves the pending set. */
export const mailboxDoneScript = new RedisScript('mailbox-done-2');

/*
 * Steps over several hash slots. A session's keys are in its slot (`{s:<id>}`), a host's heartbeat, lease and inbox
 * in the host's (`{h:<id>}`), the sessions and hosts indexes each in their own; Redis Cluster runs a script or MULTI
 * only within one slot. So what used to be one script reading a host key it computed is now a read, a check in the
 * other slot, and a compare-and-set in the first that fails when what was read changed meanwhile. Each comment says
 * what a crash or a race between the steps leaves behind.
 */

/**
 * What surrounds a host id in its host key and its inbox (`keys.host(id)` = `before + id + hostAfter`), for the two
 * one-server scripts that compute them.
 */
export function hostKeyParts(keys: RedisKeys): { before: string; hostAfter: string; inboxAfter: string } {
  const marker = '\n';
  const [before = '', hostAfter = ''] = keys.host(marker).split(marker);
  const inboxAfter = keys.hostInbox(marker).split(marker)[1] ?? '';
  return { before, hostAfter, inboxAfter };
}

/**
 * A session's record, its owner, and whether that owner's heartbeat is live. One server: one round trip
 * (read-session-2). A Cluster: the record and owner (one slot, one MGET), then the owner's host key (its slot).
 */
export async function readSession(redis: Redis, keys: RedisKeys, sessionId: string): Promise<{ record: string | null; owner: string | null; ownerAlive: boolean }> {
  if (!redis.isCluster) {
    const { before, hostAfter } = hostKeyParts(keys);
    const reply = await readSessionScript.run(redis, [keys.session(sessionId), keys.sessionOwner(sessionId)], [before, hostAfter]);
    const [record, owner, alive] = Array.isArray(reply) ? (reply as unknown[]) : [];
    return { record: typeof record === 'string' ? record : null, owner: typeof owner === 'string' ? owner : null, ownerAlive: alive === 1 };
  }
  const [record = null, owner = null] = await redis.mget(keys.session(sessionId), keys.sessionOwner(sessionId));
  if (record === null || owner === null) return { record, owner, ownerAlive: false };
  return { record, owner, ownerAlive: (await redis.exists(keys.host(owner))) === 1 };
}

export type ClaimOutcome = 'claimed' | 'owned-elsewhere' | 'missing';

/**
 * Takes ownership of a session when it has no owner, when `hostId` owns it already, or when its owner's heartbeat
 * has expired (that host is dead: its sessions are adopted, not lost). Read, check the owner's heartbeat, then
 * claim-session-2 sets the owner only if it is still the one read: two hosts adopting at once cannot both win. A
 * dead owner whose heartbeat comes back between the check and the claim loses the session to us; it finds out at
 * its next save (save-session-2 refuses it) or its next watch, as a host cut off from Redis does.
 */
export async function claimSession(redis: Redis, keys: RedisKeys, sessionId: string, hostId: string): Promise<ClaimOutcome> {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const { record, owner, ownerAlive } = await readSession(redis, keys, sessionId);
    if (record === null) return 'missing';
    if (owner !== null && owner !== hostId && ownerAlive) return 'owned-elsewhere';
    const outcome = await claimSessionScript.run(redis, [keys.session(sessionId), keys.sessionOwner(sessionId)], [hostId, owner ?? '']);
    if (outcome === 1) return 'claimed';
    if (outcome === -1) return 'missing';
    // The owner changed since we read it: look again (another host most likely claimed it just now).
  }
  return 'owned-elsewhere';
}

/**
 * Records a new session owned by `hostId`; false when the id is taken. The id enters the sessions index first (ZADD
 * NX: an existing session keeps its creation time), then create-session-2 writes the record and the owner in the
 * session's slot. A crash between the two leaves an index entry without a record, which every reader skips
 * (and a later create of that id fills); the reverse order could leave a record no listing shows.
 */
export async function createSession(redis: Redis, keys: RedisKeys, sessionId: string, recordJson: string, createdAtMs: number, hostId: string): Promise<boolean> {
  await redis.zadd(keys.sessions, 'NX', createdAtMs, sessionId);
  const created = await createSessionScript.run(redis, [keys.session(sessionId), keys.sessionOwner(sessionId)], [recordJson, hostId]);
  // A remove of an earlier session of this id may have taken the index entry out since the first ZADD (it found the
  // old entry there, so that ZADD did nothing): put it back. With removeSession's own check, every order ends indexed.
  if (created === 1) await redis.zadd(keys.sessions, 'NX', createdAtMs, sessionId);
  return created === 1;
}

/**
 * Deletes a session's keys (record, owner, event log, webhook cursors) while its owner is still `expectedOwner`
 * (null: none; undefined: whoever it is), then its sessions-index entry. A crash between the two leaves an index
 * entry without a record, which readers skip. → 'removed', 'owner-changed' (nothing removed) or 'missing'.
 */
export async function removeSession(redis: Redis, keys: RedisKeys, sessionId: string, expectedOwner?: string | null): Promise<'removed' | 'owner-changed' | 'missing'> {
  const sessionKeys = [keys.session(sessionId), keys.sessionOwner(sessionId), keys.events(sessionId), keys.webhookCursors(sessionId)];
  if (expectedOwner === undefined) {
    await redis.del(...sessionKeys);
  } else {
    const outcome = await removeSessionScript.run(redis, sessionKeys, [expectedOwner ?? '']);
    if (outcome === 0) return 'owner-changed';
    if (outcome === -1) {
      await redis.zrem(keys.sessions, sessionId);
      return 'missing';
    }
  }
  await redis.zrem(keys.sessions, sessionId);
  await reindexIfMadeAgain(redis, keys, sessionId);
  return 'removed';
}

/** A create of the same id that wrote its record between the removal and the ZREM keeps its index entry. */
async function reindexIfMadeAgain(redis: Redis, keys: RedisKeys, sessionId: string): Promise<void> {
  const raw = await redis.get(keys.session(sessionId));
  if (raw === null) return;
  let createdAtMs = Date.now();
  try {
    const parsed: unknown = JSON.parse(raw);
    const createdAt = typeof parsed === 'object' && parsed !== null && 'createdAt' in parsed ? Date.parse(String(parsed.createdAt)) : Number.NaN;
    if (Number.isFinite(createdAt)) createdAtMs = createdAt;
  } catch {
    // An unreadable record still deserves its place in the index; readers decide what to make of it.
  }
  await redis.zadd(keys.sessions, 'NX', createdAtMs, sessionId);
}
