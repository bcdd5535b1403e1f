-- claim-session-2: takes ownership of a session, only while its owner is still the one the caller read (none, the
-- caller itself, or a host whose heartbeat the caller found expired: that host is dead, its sessions are adopted).
-- The heartbeat is in the host's own slot, so the caller checks it before (lib/redis-scripts.ts, claimSession).
--   KEYS[1] session record   KEYS[2] session owner
--   ARGV[1] claiming host id   ARGV[2] the owner the caller read ('' = none)
--   → 1 claimed (or already ours), 0 the owner changed since it was read, -1 no such session
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local owner = redis.call('GET', KEYS[2]) or ''
if owner ~= ARGV[1] and owner ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
return 1
