-- advance-webhook-cursor-1: moves a (webhook, session) cursor to the event just delivered (or given up), only if it
-- is still where the delivering host read it: a `replay` that moved it back meanwhile wins.
--   KEYS[1] the session's webhook cursors (hash)
--   ARGV[1] webhook id   ARGV[2] the cursor the host read ('' = none yet)   ARGV[3] the new cursor
--   → 1 moved, 0 the cursor changed meanwhile (nothing written)
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (current or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
