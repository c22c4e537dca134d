--[[
  The flood cut and the queue for a batch of reports in one script run, for Redis storage with
  Redis flood counters: counts each report's flood key (countFlood, include-count.lua) and adds
  the reports whose count is within their MAX_CACHE_USES (pushItems, include-push.lua). The
  reports are counted and pushed in batch order, so the result equals running them one by one.

  KEYS[1..4]            seq, items, stats, ring (as push-5)
  KEYS[5 + 2j]          report j's project queue (j = 0 .. n-1)
  KEYS[6 + 2j]          report j's flood counter key

  ARGV[1], ARGV[2]      max items, max bytes
  ARGV[3 + 5j .. 7 + 5j] report j's encoded item, project id, item bytes, window length in ms
                        (>= 1), max uses (a count above it is a flood and nothing is queued)

  Returns { count_0, result_0, count_1, result_1, ... }: the report's count in its window, and
  its push result (the farm-wide item count, or -1 / -2 when full; see include-push.lua), or 0
  when the report was a flood and nothing was queued.
]]
local n = (#KEYS - 4) / 2
local out, pushes, position = {}, {}, {}
for j = 0, n - 1 do
  local a = 3 + 5 * j
  local count = countFlood(KEYS[6 + 2 * j], ARGV[a + 3])
  out[2 * j + 1], out[2 * j + 2] = count, 0
  if count <= tonumber(ARGV[a + 4]) then
    pushes[#pushes + 1] = { KEYS[5 + 2 * j], ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]) }
    position[#pushes] = 2 * j + 2
  end
end
if #pushes > 0 then
  local results = pushItems(KEYS[1], KEYS[2], KEYS[3], KEYS[4], pushes, tonumber(ARGV[1]), tonumber(ARGV[2]))
  for i, result in ipairs(results) do out[position[i]] = result end
end
return out
