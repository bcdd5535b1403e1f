-- host-withdraw-2: withdraws a session host (its lease and its host key), only while it holds the lease: a process
-- that lost its host id to another must not withdraw the other. The caller then drops its hosts-index entry.
--   KEYS[1] host lease   KEYS[2] host key   (both `{h:<host id>}`: one slot)
--   ARGV[1] lease token
--   → 1 withdrawn, 0 not the holder (nothing touched)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
