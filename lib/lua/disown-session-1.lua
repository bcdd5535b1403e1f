-- disown-session-1: gives up this host's claim on a session (to move it to another host), only while it is ours.
--   KEYS[1] session owner   ARGV[1] host id
--   → 1 disowned, 0 not ours
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
