-- save-session-2: writes a session record, only while the caller still owns the session (a host that lost its
-- ownership to another must not overwrite the new owner's state).
--   KEYS[1] session record   KEYS[2] session owner
--   ARGV[1] record JSON   ARGV[2] host id
--   → 1 saved, 0 not the owner (or the session was deleted)
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
