-- record-webhook-delivery-5: stores one delivery's state and files it under its status, keeping the newest `cap` of
-- each index; a delivery that leaves the `all` index leaves the record hash too.
--   KEYS[1] deliveries (hash)   KEYS[2] index of all   KEYS[3] index `delivered`   KEYS[4] index `failed`
--   KEYS[5] index `dead`
--   ARGV[1] member (`<session id>/<event id>`)   ARGV[2] Delivery JSON   ARGV[3] its status   ARGV[4] updated (ms)
--   ARGV[5] cap
--   → 1
local cap = tonumber(ARGV[5])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
local byStatus = { delivered = KEYS[3], failed = KEYS[4], dead = KEYS[5] }
for status, key in pairs(byStatus) do
  if status == ARGV[3] then
    redis.call('ZADD', key, ARGV[4], ARGV[1])
    redis.call('ZREMRANGEBYRANK', key, 0, -cap - 1)
  else
    redis.call('ZREM', key, ARGV[1])
  end
end
local gone = redis.call('ZRANGE', KEYS[2], 0, -cap - 1)
if #gone > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -cap - 1)
  redis.call('HDEL', KEYS[1], unpack(gone))
  redis.call('ZREM', KEYS[3], unpack(gone))
  redis.call('ZREM', KEYS[4], unpack(gone))
  redis.call('ZREM', KEYS[5], unpack(gone))
end
return 1
