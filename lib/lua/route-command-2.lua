-- route-command-2: finds a session, checks that its owner's heartbeat is live (and, when asked, the session's
-- status), and pushes a command onto that owner's inbox: what a REST command cost in two round trips, in one.
--   KEYS[1] session record   KEYS[2] session owner
--   ARGV[1] prefix of host keys (`<prefix>:host:`)   ARGV[2] suffix of a host's inbox (`:inbox`)
--   ARGV[3] the command envelope (JSON)   ARGV[4] inbox TTL in ms   ARGV[5] the status the session must have, or ''
--   → { 0 } no such session; { 1, record } no live owner; { 2, record } not in the status asked;
--     { 3, owner } pushed onto `<prefix>:host:<owner>:inbox`
-- The inbox key is derived from the owner read here, so it cannot be declared: like every multi-key step of the
-- service, this needs a single Redis (Redis Cluster is not supported; docs/architecture.md).
local record = redis.call('GET', KEYS[1])
if not record then return { 0 } end
local owner = redis.call('GET', KEYS[2])
if not owner or redis.call('EXISTS', ARGV[1] .. owner) == 0 then return { 1, record } end
if ARGV[5] ~= '' then
  local ok, decoded = pcall(cjson.decode, record)
  if not ok or type(decoded) ~= 'table' or decoded.status ~= ARGV[5] then return { 2, record } end
end
local inbox = ARGV[1] .. owner .. ARGV[2]
redis.call('LPUSH', inbox, ARGV[3])
redis.call('PEXPIRE', inbox, ARGV[4])
return { 3, owner }
