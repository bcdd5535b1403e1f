-- append-event-once-2: appends an event to a session's log unless an event with the same key was appended within
-- the TTL (an incoming message WhatsApp announced again, or a mailbox item shown again by a host that took over):
-- so each is in the log once, whichever process appends it.
--   KEYS[1] the event stream   KEYS[2] the once-key of this event
--   ARGV[1] MAXLEN   ARGV[2] MINID (oldest id kept)   ARGV[3] the event JSON   ARGV[4] once-key TTL (s)
--   → the new entry id, or false when the key was seen (nothing appended)
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[4])) == false then return false end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[3])
redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[2])
return id
