-- ws-unsubscribe-3: removes a subscription; a connection left with none receives every session's events again.
--   KEYS[1] connection hash   KEYS[2] unfiltered set   KEYS[3] the session's subscribers set
--   ARGV[1] connection id   ARGV[2] session id
--   → 1 done, 0 no such connection
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], 's:' .. ARGV[2])
redis.call('SREM', KEYS[3], ARGV[1])
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, 2) == 's:' then return 1 end
end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
