-- host-withdraw-3: withdraws a session host (its lease, its host key, its index entry), only while it holds the lease:
-- a process that lost its host id to another must not withdraw the other.
--   KEYS[1] host lease   KEYS[2] host key   KEYS[3] hosts index (zset)
--   ARGV[1] lease token   ARGV[2] host id
--   → 1 withdrawn, 0 not the holder (nothing touched)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
