-- create-session-3: records a new session owned by the calling host, unless the id is taken.
--   KEYS[1] session record   KEYS[2] sessions index (zset)   KEYS[3] session owner
--   ARGV[1] record JSON   ARGV[2] creation time (ms)   ARGV[3] session id   ARGV[4] host id
--   → 1 created, 0 the id exists
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('SET', KEYS[3], ARGV[4])
return 1
