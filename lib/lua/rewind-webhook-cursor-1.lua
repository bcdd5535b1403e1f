-- rewind-webhook-cursor-1: for `replay`, moves a (webhook, session) cursor back to `after`, never forward (a pair
-- that is behind `after` already will deliver everything after it anyway). Stream ids compare as two integers of up
-- to 20 digits, so they are compared as strings of equal length here (Lua numbers are doubles).
--   KEYS[1] the session's webhook cursors (hash)
--   ARGV[1] webhook id   ARGV[2] after   ARGV[3] the cursor of a pair that has none yet (the webhook's start)
--   → the cursor now
local function parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return string.rep('0', 20 - #ms) .. ms, string.rep('0', 20 - #seq) .. seq
end
local function less(a, b)
  local am, as = parts(a)
  local bm, bs = parts(b)
  if am ~= bm then return am < bm end
  return as < bs
end
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ARGV[3]
if less(ARGV[2], current) then current = ARGV[2] end
redis.call('HSET', KEYS[1], ARGV[1], current)
return current
