-- mailbox-done-2: drops delivered items from the head of a simulated session's mailbox; once empty, the session
-- leaves the pending set. Only the items this caller read are dropped, each only while it is still the head: two
-- hosts that read the same items (a session moving between them) cannot drop items that came after, unseen.
--   KEYS[1] the mailbox list   KEYS[2] the pending set
--   ARGV[1] the session id     ARGV[2..] the items as read, oldest first
--   → how many were dropped
local dropped = 0
for i = 2, #ARGV do
  if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[i] then break end
  redis.call('LPOP', KEYS[1])
  dropped = dropped + 1
end
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
return dropped
