-- claim-session-2: takes ownership of a session when it has no owner, when the caller owns it already, or when
-- its owner's heartbeat has expired (that host is dead: its sessions are adopted, not lost).
--   KEYS[1] session record   KEYS[2] session owner
--   ARGV[1] claiming host id   ARGV[2] prefix of host keys (`<prefix>:host:`)
--   → 1 claimed (or already ours), 0 another live host owns it, -1 no such session
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. owner) == 1 then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
return 1
