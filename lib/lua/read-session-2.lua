-- read-session-2: one session's record, its owner, and whether that owner's heartbeat is live, in one round trip.
--   KEYS[1] session record   KEYS[2] session owner
--   ARGV[1] prefix of host keys (`<prefix>:host:`)
--   → { record or false, owner or false, 1 when the owner's host key exists else 0 }
local record = redis.call('GET', KEYS[1])
local owner = redis.call('GET', KEYS[2])
local alive = 0
if owner and redis.call('EXISTS', ARGV[1] .. owner) == 1 then alive = 1 end
return { record, owner, alive }
