-- push-command-2: pushes a command onto a host's inbox, only while that host's heartbeat is live (a dead host's inbox
-- would keep the command until its TTL, and the caller would wait for nothing).
--   KEYS[1] the host key (heartbeat)   KEYS[2] the host's inbox (list)   (both `{h:<host id>}`: one slot)
--   ARGV[1] the command envelope (JSON)   ARGV[2] inbox TTL in ms
--   → 1 pushed, 0 the host is not live (nothing pushed)
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
