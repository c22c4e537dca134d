--[[
  The flood cut and the queue for a batch of one project's reports in one script run, for Redis
  storage with Redis flood counters: counts each report's flood key (countFlood,
  include-count.lua) and adds the reports whose count is within MAX_CACHE_USES (pushItems,
  include-push.lua). The reports are counted and pushed in batch order, so the result equals
  running them one by one. Every key is the project's (one hash slot).

  KEYS[1..4]            seq, items, stats, queue (as push-4)
  KEYS[5 + j]           report j's flood counter key (j = 0 .. n-1)

  ARGV[1], ARGV[2]      room for items and bytes (as push-4)
  ARGV[3], ARGV[4]      window length in ms (>= 1), max uses (a count above it is a flood and
                        nothing is queued): the same for every report of a batch
  ARGV[5]               the reports, one after another, each as
                          item length, item bytes (uint32 little-endian each), encoded item
                        (one argument: the client's cost is per argument, see storage/redis/batch.ts)

  Returns { count_0, result_0, count_1, result_1, ..., project items, project bytes }: the
  report's count in its window, and its push result (see push-4), or 0 when the report was a
  flood and nothing was queued.
]]
local n = #KEYS - 4
local windowMs, maxUses, reports = ARGV[3], tonumber(ARGV[4]), ARGV[5]
local out, pushes, position = {}, {}, {}
local at = 1
for j = 0, n - 1 do
  local itemLength, itemBytes, itemAt = struct.unpack("<I4I4", reports, at)
  at = itemAt + itemLength
  local count = countFlood(KEYS[5 + j], windowMs)
  out[2 * j + 1], out[2 * j + 2] = count, 0
  if count <= maxUses then
    -- A flood's body is never copied out of the batch.
    pushes[#pushes + 1] = { string.sub(reports, itemAt, at - 1), itemBytes }
    position[#pushes] = 2 * j + 2
  end
end
local items, bytes
if #pushes > 0 then
  local results
  results, items, bytes = pushItems(KEYS[1], KEYS[2], KEYS[3], KEYS[4], pushes, tonumber(ARGV[1]), tonumber(ARGV[2]))
  for i, result in ipairs(results) do out[position[i]] = result end
else
  items, bytes = projectTotals(KEYS[3])
end
out[#out + 1] = items
out[#out + 1] = bytes
return out
