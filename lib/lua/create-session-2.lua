-- create-session-2: records a new session owned by the calling host, unless the id is taken. The sessions index is
-- in another slot: the caller adds the id to it first (ZADD NX, lib/redis-scripts.ts, createSession).
--   KEYS[1] session record   KEYS[2] session owner
--   ARGV[1] record JSON   ARGV[2] host id
--   → 1 created, 0 the id exists
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return 1
