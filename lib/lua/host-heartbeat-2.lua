-- host-heartbeat-2: one heartbeat of a session host, only while it holds the lease on its host id. Renews the lease
-- (or takes it again when it lapsed and nobody took it) and refreshes the host key. The hosts index is in another
-- slot: the caller updates it after a beat (session-host/host-registry.ts).
--   KEYS[1] host lease   KEYS[2] host key   (both `{h:<host id>}`: one slot)
--   ARGV[1] lease token   ARGV[2] TTL (ms)   ARGV[3] HostInfo JSON
--   → 1 beat, 0 another process holds the lease (nothing written)
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
return 1
