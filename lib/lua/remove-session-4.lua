-- remove-session-4: deletes a session's keys (record, owner, event log, webhook cursors), only while its owner is
-- still the one the caller read (the caller checked that owner's heartbeat, which is in another slot). The caller
-- then drops the id from the sessions index (another slot too).
--   KEYS[1] session record   KEYS[2] session owner   KEYS[3] event log   KEYS[4] webhook cursors
--   ARGV[1] the owner the caller read ('' = none)
--   → 1 removed, 0 the owner changed since it was read (nothing removed), -1 no such session
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return 1
