--[[
  The flood cut and the queue in one round trip, for Redis storage with Redis flood counters:
  counts the report's flood key (countFlood, include-count.lua) and adds the item (pushItem,
  include-push.lua) only when the count is within MAX_CACHE_USES. Half the round trips and
  script runs of incr-1 followed by push-5, with the same effect.

  KEYS[1..5] as push-5: seq, items, stats, ring, this project's queue
  KEYS[6]    the flood counter key

  ARGV[1..5] as push-5: encoded item, project id, item bytes, max items, max bytes
  ARGV[6]    window length, ms (>= 1)
  ARGV[7]    max uses: a count above it is a flood and nothing is queued

  Returns { count in the window, push result }: the push result is push-5's (item count, or -1 /
  -2 when full), or 0 when the report was a flood and nothing was queued.
]]
local count = countFlood(KEYS[6], ARGV[6])
if count > tonumber(ARGV[7]) then
  return { count, 0 }
end
return { count, pushItem(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])) }
