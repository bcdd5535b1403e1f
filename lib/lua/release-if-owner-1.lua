-- release-if-owner-1: deletes a claim (a simulated phone or LID → session id) only while it is still that session's.
--   KEYS[1] the claim   ARGV[1] the session id
--   → 1 deleted, 0 not that session's
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
