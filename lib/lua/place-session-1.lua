-- place-session-1: picks, among candidate hosts, the one with the least load for a new session, and counts the
-- placement at once, so that sessions created together spread instead of all going to the host whose heartbeat
-- last said it had the fewest. Load = the sessions the host's last heartbeat reported + the placements made on it
-- since that heartbeat. The caller reads the live hosts of the engine (their keys are each in their own slot) and
-- passes them; what must be atomic, counting the placements, is here.
--   KEYS[1] recent placements (zset: `<host id>|<nonce>` → time ms; host ids have no `|`)
--   ARGV[1] now (ms)   ARGV[2] window (ms)   ARGV[3] a nonce
--   ARGV[4..] per candidate: host id, its heartbeat time (ms), the sessions it reported, the most it runs (0: no cap)
--   → the host id; 0 when every candidate is full (MAX_SESSIONS_PER_HOST); false when there is no candidate
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local placements = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local best, bestLoad = false, nil
local candidates = 0
for candidate = 4, #ARGV - 3, 4 do
  candidates = candidates + 1
  local hostId = ARGV[candidate]
  local since = tonumber(ARGV[candidate + 1]) or 0
  local load = tonumber(ARGV[candidate + 2]) or 0
  local max = tonumber(ARGV[candidate + 3]) or 0
  for index = 1, #placements, 2 do
    if string.match(placements[index], '^(.-)|') == hostId and tonumber(placements[index + 1]) > since then
      load = load + 1
    end
  end
  if (max == 0 or load < max) and (bestLoad == nil or load < bestLoad) then
    best = hostId
    bestLoad = load
  end
end
if best then
  redis.call('ZADD', KEYS[1], now, best .. '|' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window * 2)
  return best
end
if candidates > 0 then return 0 end
return false
