-- append-event-3: appends an event to a session's log and trims the oldest entries while the log is over its length,
-- holds entries older than the retention, or holds more bytes than its cap; with a once-key, only if no event with
-- that key was appended within the TTL (an incoming message announced again, or a mailbox item shown again by a host
-- that took over), so each is in the log once, whichever process appends it.
-- The log's size in bytes (the events' JSON) is counted in KEYS[2]: added here, taken off for each entry trimmed
-- here. All trimming happens here, so the count stays true; it restarts from the new event when the log held nothing
-- (a session made again under an old id), and never goes below 0.
--   KEYS[1] the event stream   KEYS[2] the log's byte count   KEYS[3] the once-key of this event (any key of the
--   session's slot when ARGV[6] is '0')
--   ARGV[1] most entries   ARGV[2] oldest time kept (ms)   ARGV[3] the event JSON   ARGV[4] once-key TTL (s)
--   ARGV[5] most bytes (0: no cap)   ARGV[6] '1' to use the once-key   ARGV[7] the byte count's TTL (ms)
--   → the new entry id, or false when the once-key was seen (nothing appended)
if ARGV[6] == '1' and redis.call('SET', KEYS[3], '1', 'NX', 'EX', tonumber(ARGV[4])) == false then return false end
local maxLength = tonumber(ARGV[1])
local oldestMs = tonumber(ARGV[2])
local maxBytes = tonumber(ARGV[5])
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[3])
local length = redis.call('XLEN', KEYS[1])
local bytes = string.len(ARGV[3])
if length > 1 then bytes = bytes + math.max(0, tonumber(redis.call('GET', KEYS[2]) or '0')) end
-- At most 1,000 entries per append, so that one call never holds Redis long (a long-idle log catches up over a few).
for _ = 1, 1000 do
  if length <= 1 then break end
  local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
  local headMs = tonumber(string.match(head[1], '^(%d+)-'))
  if not (length > maxLength or headMs < oldestMs or (maxBytes > 0 and bytes > maxBytes)) then break end
  redis.call('XDEL', KEYS[1], head[1])
  bytes = math.max(0, bytes - string.len(head[2][2] or ''))
  length = length - 1
end
redis.call('SET', KEYS[2], bytes, 'PX', tonumber(ARGV[7]))
return id
