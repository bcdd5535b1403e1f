-- host-heartbeat-3: one heartbeat of a session host, only while it holds the lease on its host id. Renews the lease
-- (or takes it again when it lapsed and nobody took it), refreshes the host key and its score in the hosts index.
--   KEYS[1] host lease   KEYS[2] host key   KEYS[3] hosts index (zset)
--   ARGV[1] lease token   ARGV[2] TTL (ms)   ARGV[3] HostInfo JSON   ARGV[4] now (ms)   ARGV[5] host id
--   ARGV[6] index entries older than this (ms) leave the index
--   → 1 beat, 0 another process holds the lease (nothing written)
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[6])
return 1
