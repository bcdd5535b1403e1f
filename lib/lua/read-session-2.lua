-- read-session-2: one session's record, its owner, and whether that owner's heartbeat is live, in one round trip.
-- One server only: the owner's host key is computed here, and is in the host's hash slot, not the session's. On a
-- Redis Cluster lib/redis-scripts.ts (readSession) reads the same in two steps.
--   KEYS[1] session record   KEYS[2] session owner
--   ARGV[1] what precedes a host id in its host key   ARGV[2] what follows it (keys.host(id) = ARGV[1]..id..ARGV[2])
--   → { record or false, owner or false, 1 when the owner's host key exists else 0 }
local record = redis.call('GET', KEYS[1])
local owner = redis.call('GET', KEYS[2])
local alive = 0
if owner and redis.call('EXISTS', ARGV[1] .. owner .. ARGV[2]) == 1 then alive = 1 end
return { record, owner, alive }
