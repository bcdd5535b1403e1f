-- mailbox-done-2: drops delivered items from the head of a simulated session's mailbox; once empty, the session
-- leaves the pending set.
--   KEYS[1] the mailbox list   KEYS[2] the pending set
--   ARGV[1] how many items   ARGV[2] the session id
--   → 1
redis.call('LTRIM', KEYS[1], tonumber(ARGV[1]), -1)
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return 1
