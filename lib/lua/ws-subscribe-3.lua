-- ws-subscribe-3: adds a subscription to a registered connection and takes it out of the unfiltered set.
--   KEYS[1] connection hash   KEYS[2] unfiltered set   KEYS[3] the session's subscribers set
--   ARGV[1] connection id   ARGV[2] session id   ARGV[3] "keep-unfiltered": leave an unfiltered connection as it is
--   → 1 done, 0 no such connection
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] == 'keep-unfiltered' and redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 1 end
redis.call('HSET', KEYS[1], 's:' .. ARGV[2], '1')
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
