--[[
  The flood cut and the queue for a batch of reports in one script run, for Redis storage with
  Redis flood counters: counts each report's flood key (countFlood, include-count.lua) and adds
  the reports whose count is within their MAX_CACHE_USES (pushItems, include-push.lua). The
  reports are counted and pushed in batch order, so the result equals running them one by one.

  KEYS[1..4]            seq, items, stats, ring (as push-5)
  KEYS[5 + 2j]          report j's project queue (j = 0 .. n-1)
  KEYS[6 + 2j]          report j's flood counter key

  ARGV[1], ARGV[2]      max items, max bytes
  ARGV[3], ARGV[4]      window length in ms (>= 1), max uses (a count above it is a flood and
                        nothing is queued): the same for every report of a batch
  ARGV[5]               the reports, one after another, each as
                          item length, item bytes (uint32 little-endian each),
                          project id length (uint8), project id (decimal), encoded item
                        (one argument: the client's cost is per argument, see storage/redis.ts batchBlob)

  Returns { count_0, result_0, count_1, result_1, ... }: the report's count in its window, and
  its push result (the farm-wide item count, or -1 / -2 when full; see include-push.lua), or 0
  when the report was a flood and nothing was queued.
]]
local n = (#KEYS - 4) / 2
local windowMs, maxUses, reports = ARGV[3], tonumber(ARGV[4]), ARGV[5]
local out, pushes, position = {}, {}, {}
local at = 1
for j = 0, n - 1 do
  local itemLength, itemBytes, idLength, idAt = struct.unpack("<I4I4B", reports, at)
  local itemAt = idAt + idLength
  at = itemAt + itemLength
  local count = countFlood(KEYS[6 + 2 * j], windowMs)
  out[2 * j + 1], out[2 * j + 2] = count, 0
  if count <= maxUses then
    -- A flood's body is never copied out of the batch.
    pushes[#pushes + 1] = { KEYS[5 + 2 * j], string.sub(reports, itemAt, at - 1), string.sub(reports, idAt, itemAt - 1), itemBytes }
    position[#pushes] = 2 * j + 2
  end
end
if #pushes > 0 then
  local results = pushItems(KEYS[1], KEYS[2], KEYS[3], KEYS[4], pushes, tonumber(ARGV[1]), tonumber(ARGV[2]))
  for i, result in ipairs(results) do out[position[i]] = result end
end
return out
