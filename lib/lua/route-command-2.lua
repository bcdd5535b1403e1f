-- route-command-2: finds a session, checks that its owner's heartbeat is live (and, when asked, the session's
-- status), and pushes a command onto that owner's inbox: what a REST command cost in two round trips, in one.
-- One server only: the owner's host key and inbox are derived here from the owner read, so they cannot be declared
-- (and are in the host's hash slot). On a Redis Cluster lib/command-bus.ts does the same in two steps
-- (the session's record and owner, then push-command-2 in the owner's slot).
--   KEYS[1] session record   KEYS[2] session owner
--   ARGV[1] what precedes a host id in its keys   ARGV[2] what follows it in its host key   ARGV[3] … in its inbox
--   ARGV[4] the command envelope (JSON)   ARGV[5] inbox TTL in ms   ARGV[6] the status the session must have, or ''
--   → { 0 } no such session; { 1, record } no live owner; { 2, record } not in the status asked;
--     { 3, owner } pushed onto the owner's inbox
local record = redis.call('GET', KEYS[1])
if not record then return { 0 } end
local owner = redis.call('GET', KEYS[2])
if not owner or redis.call('EXISTS', ARGV[1] .. owner .. ARGV[2]) == 0 then return { 1, record } end
if ARGV[6] ~= '' then
  local ok, decoded = pcall(cjson.decode, record)
  if not ok or type(decoded) ~= 'table' or decoded.status ~= ARGV[6] then return { 2, record } end
end
local inbox = ARGV[1] .. owner .. ARGV[3]
redis.call('LPUSH', inbox, ARGV[4])
redis.call('PEXPIRE', inbox, ARGV[5])
return { 3, owner }
