-- sliding-window-1: counts one event in a sliding window unless the window is full.
--   KEYS[1] the window (zset of event ids scored by time)
--   ARGV[1] now (ms)   ARGV[2] window (ms)   ARGV[3] max events   ARGV[4] a unique id for this event
--   → 0 counted; otherwise the ms until the oldest event leaves the window
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return 0
