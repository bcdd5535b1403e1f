-- forget-tenant-1: removes a session's owner mark once the session is gone, only while it is still the mark that
-- was read before the delete and a settled one (no expiry): a new session of the same id that another create is
-- making meanwhile (a pending mark, with an expiry) keeps its mark.
--   KEYS[1] the session's owner mark   ARGV[1] the owner's key id read before the delete
--   → 1 removed, 0 left alone
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('PTTL', KEYS[1]) == -1 then return redis.call('DEL', KEYS[1]) end
return 0
