-- place-session-2: picks the live host of an engine with the least load for a new session, and counts the
-- placement at once, so that sessions created together spread instead of all going to the host whose heartbeat
-- last said it had the fewest. Load = the sessions the host's last heartbeat reported + the placements made on it
-- since that heartbeat (`heartbeatAtMs` of its HostInfo).
--   KEYS[1] hosts index (zset)   KEYS[2] recent placements (zset: `<host id>|<nonce>` → time ms; host ids have no `|`)
--   ARGV[1] prefix of host keys (`<prefix>:host:`)   ARGV[2] now (ms)   ARGV[3] window (ms)   ARGV[4] engine
--   ARGV[5] a nonce
--   → the host id, or false when no live host runs that engine
local now = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local placements = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local best, bestLoad = false, nil
for _, hostId in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local raw = redis.call('GET', ARGV[1] .. hostId)
  if raw then
    local ok, info = pcall(cjson.decode, raw)
    if ok and type(info) == 'table' and info.engine == ARGV[4] then
      local since = tonumber(info.heartbeatAtMs) or 0
      local load = tonumber(info.sessions) or 0
      for index = 1, #placements, 2 do
        if string.match(placements[index], '^(.-)|') == hostId and tonumber(placements[index + 1]) > since then
          load = load + 1
        end
      end
      if bestLoad == nil or load < bestLoad then
        best = hostId
        bestLoad = load
      end
    end
  end
end
if best then
  redis.call('ZADD', KEYS[2], now, best .. '|' .. ARGV[5])
  redis.call('PEXPIRE', KEYS[2], window * 2)
end
return best
