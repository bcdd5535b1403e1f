/**
 * The atomic multi-key steps of the service, as Lua scripts. Each header documents KEYS, ARGV and the reply; each
 * script is named `<what>-<number of keys>` after BullMQ's habit, and runs by EVALSHA with an EVAL fallback.
 */
import { createHash } from 'node:crypto';
import type { Redis } from './redis.js';

export class RedisScript {
  readonly sha1: string;
  constructor(
    readonly name: string,
    readonly numberOfKeys: number,
    readonly lua: string,
  ) {
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

/**
 * read-session-2: one session's record, its owner, and whether that owner's heartbeat is live, in one round trip.
 *   KEYS[1] session record   KEYS[2] session owner
 *   ARGV[1] prefix of host keys (`<prefix>:host:`)
 *   → { record or false, owner or false, 1 when the owner's host key exists else 0 }
 */
export const readSessionScript = new RedisScript(
  'read-session-2',
  2,
  `
local record = redis.call('GET', KEYS[1])
local owner = redis.call('GET', KEYS[2])
local alive = 0
if owner and redis.call('EXISTS', ARGV[1] .. owner) == 1 then alive = 1 end
return { record, owner, alive }
`,
);

/**
 * create-session-3: records a new session owned by the calling host, unless the id is taken.
 *   KEYS[1] session record   KEYS[2] sessions index (zset)   KEYS[3] session owner
 *   ARGV[1] record JSON   ARGV[2] creation time (ms)   ARGV[3] session id   ARGV[4] host id
 *   → 1 created, 0 the id exists
 */
export const createSessionScript = new RedisScript(
  'create-session-3',
  3,
  `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('SET', KEYS[3], ARGV[4])
return 1
`,
);

/**
 * claim-session-2: takes ownership of a session when it has no owner, when the caller owns it already, or when
 * its owner's heartbeat has expired (that host is dead: its sessions are adopted, not lost).
 *   KEYS[1] session record   KEYS[2] session owner
 *   ARGV[1] claiming host id   ARGV[2] prefix of host keys (`<prefix>:host:`)
 *   → 1 claimed (or already ours), 0 another live host owns it, -1 no such session
 */
export const claimSessionScript = new RedisScript(
  'claim-session-2',
  2,
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. owner) == 1 then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
return 1
`,
);

/**
 * save-session-2: writes a session record, only while the caller still owns the session (a host that lost its
 * ownership to another must not overwrite the new owner's state).
 *   KEYS[1] session record   KEYS[2] session owner
 *   ARGV[1] record JSON   ARGV[2] host id
 *   → 1 saved, 0 not the owner (or the session was deleted)
 */
export const saveSessionScript = new RedisScript(
  'save-session-2',
  2,
  `
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`,
);

/**
 * host-heartbeat-3: one heartbeat of a session host, only while it holds the lease on its host id. Renews the lease
 * (or takes it again when it lapsed and nobody took it), refreshes the host key and its score in the hosts index.
 *   KEYS[1] host lease   KEYS[2] host key   KEYS[3] hosts index (zset)
 *   ARGV[1] lease token   ARGV[2] TTL (ms)   ARGV[3] HostInfo JSON   ARGV[4] now (ms)   ARGV[5] host id
 *   ARGV[6] index entries older than this (ms) leave the index
 *   → 1 beat, 0 another process holds the lease (nothing written)
 */
export const hostHeartbeatScript = new RedisScript(
  'host-heartbeat-3',
  3,
  `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[6])
return 1
`,
);

/**
 * host-withdraw-3: withdraws a session host (its lease, its host key, its index entry), only while it holds the lease:
 * a process that lost its host id to another must not withdraw the other.
 *   KEYS[1] host lease   KEYS[2] host key   KEYS[3] hosts index (zset)
 *   ARGV[1] lease token   ARGV[2] host id
 *   → 1 withdrawn, 0 not the holder (nothing touched)
 */
export const hostWithdrawScript = new RedisScript(
  'host-withdraw-3',
  3,
  `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
`,
);

/**
 * place-session-2: picks the live host of an engine with the least load for a new session, and counts the
 * placement at once, so that sessions created together spread instead of all going to the host whose heartbeat
 * last said it had the fewest. Load = the sessions the host's last heartbeat reported + the placements made on it
 * since that heartbeat (`heartbeatAtMs` of its HostInfo).
 *   KEYS[1] hosts index (zset)   KEYS[2] recent placements (zset: `<host id>|<nonce>` → time ms; host ids have no `|`)
 *   ARGV[1] prefix of host keys (`<prefix>:host:`)   ARGV[2] now (ms)   ARGV[3] window (ms)   ARGV[4] engine
 *   ARGV[5] a nonce
 *   → the host id, or false when no live host runs that engine
 */
export const placeSessionScript = new RedisScript(
  'place-session-2',
  2,
  `
local now = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local placements = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local best, bestLoad = false, nil
for _, hostId in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local raw = redis.call('GET', ARGV[1] .. hostId)
  if raw then
    local ok, info = pcall(cjson.decode, raw)
    if ok and type(info) == 'table' and info.engine == ARGV[4] then
      local since = tonumber(info.heartbeatAtMs) or 0
      local load = tonumber(info.sessions) or 0
      for index = 1, #placements, 2 do
        if string.match(placements[index], '^(.-)|') == hostId and tonumber(placements[index + 1]) > since then
          load = load + 1
        end
      end
      if bestLoad == nil or load < bestLoad then
        best = hostId
        bestLoad = load
      end
    end
  end
end
if best then
  redis.call('ZADD', KEYS[2], now, best .. '|' .. ARGV[5])
  redis.call('PEXPIRE', KEYS[2], window * 2)
end
return best
`,
);

/**
 * disown-session-1: gives up this host's claim on a session (to move it to another host), only while it is ours.
 *   KEYS[1] session owner   ARGV[1] host id
 *   → 1 disowned, 0 not ours
 */
export const disownSessionScript = new RedisScript(
  'disown-session-1',
  1,
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`,
);

/**
 * append-event-once-2: appends an event to a session's log unless an event with the same key was appended within
 * the TTL (an incoming message WhatsApp announced again, or a mailbox item shown again by a host that took over):
 * so each is in the log once, whichever process appends it.
 *   KEYS[1] the event stream   KEYS[2] the once-key of this event
 *   ARGV[1] MAXLEN   ARGV[2] MINID (oldest id kept)   ARGV[3] the event JSON   ARGV[4] once-key TTL (s)
 *   → the new entry id, or false when the key was seen (nothing appended)
 */
export const appendEventOnceScript = new RedisScript(
  'append-event-once-2',
  2,
  `
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[4])) == false then return false end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[3])
redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[2])
return id
`,
);

/**
 * record-webhook-delivery-5: stores one delivery's state and files it under its status, keeping the newest `cap` of
 * each index; a delivery that leaves the `all` index leaves the record hash too.
 *   KEYS[1] deliveries (hash)   KEYS[2] index of all   KEYS[3] index `delivered`   KEYS[4] index `failed`
 *   KEYS[5] index `dead`
 *   ARGV[1] member (`<session id>/<event id>`)   ARGV[2] Delivery JSON   ARGV[3] its status   ARGV[4] updated (ms)
 *   ARGV[5] cap
 *   → 1
 */
export const recordWebhookDeliveryScript = new RedisScript(
  'record-webhook-delivery-5',
  5,
  `
local cap = tonumber(ARGV[5])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
local byStatus = { delivered = KEYS[3], failed = KEYS[4], dead = KEYS[5] }
for status, key in pairs(byStatus) do
  if status == ARGV[3] then
    redis.call('ZADD', key, ARGV[4], ARGV[1])
    redis.call('ZREMRANGEBYRANK', key, 0, -cap - 1)
  else
    redis.call('ZREM', key, ARGV[1])
  end
end
local gone = redis.call('ZRANGE', KEYS[2], 0, -cap - 1)
if #gone > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -cap - 1)
  redis.call('HDEL', KEYS[1], unpack(gone))
  redis.call('ZREM', KEYS[3], unpack(gone))
  redis.call('ZREM', KEYS[4], unpack(gone))
  redis.call('ZREM', KEYS[5], unpack(gone))
end
return 1
`,
);

/**
 * advance-webhook-cursor-1: moves a (webhook, session) cursor to the event just delivered (or given up), only if it
 * is still where the delivering host read it: a `replay` that moved it back meanwhile wins.
 *   KEYS[1] the session's webhook cursors (hash)
 *   ARGV[1] webhook id   ARGV[2] the cursor the host read ('' = none yet)   ARGV[3] the new cursor
 *   → 1 moved, 0 the cursor changed meanwhile (nothing written)
 */
export const advanceWebhookCursorScript = new RedisScript(
  'advance-webhook-cursor-1',
  1,
  `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (current or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`,
);

/**
 * rewind-webhook-cursor-1: for `replay`, moves a (webhook, session) cursor back to `after`, never forward (a pair
 * that is behind `after` already will deliver everything after it anyway). Stream ids compare as two integers of up
 * to 20 digits, so they are compared as strings of equal length here (Lua numbers are doubles).
 *   KEYS[1] the session's webhook cursors (hash)
 *   ARGV[1] webhook id   ARGV[2] after   ARGV[3] the cursor of a pair that has none yet (the webhook's start)
 *   → the cursor now
 */
export const rewindWebhookCursorScript = new RedisScript(
  'rewind-webhook-cursor-1',
  1,
  `
local function parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return string.rep('0', 20 - #ms) .. ms, string.rep('0', 20 - #seq) .. seq
end
local function less(a, b)
  local am, as = parts(a)
  local bm, bs = parts(b)
  if am ~= bm then return am < bm end
  return as < bs
end
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ARGV[3]
if less(ARGV[2], current) then current = ARGV[2] end
redis.call('HSET', KEYS[1], ARGV[1], current)
return current
`,
);
