--[[
  Adds one item to its project's queue (pushItems, include-push.lua), unless the bounds would be
  exceeded.

  KEYS[1] seq       the project's counter giving item ids
  KEYS[2] items     the project's hash id -> encoded item
  KEYS[3] stats     the project's totals ("items", "bytes"; leased included)
  KEYS[4] queue     the project's list of queued ids

  ARGV[1] encoded item (binary)
  ARGV[2] item bytes (body length, what the byte bound counts)
  ARGV[3] room for items: MAX_QUEUE_ITEMS less the other projects' items
  ARGV[4] room for bytes: MAX_QUEUE_BYTES less the other projects' bytes

  Returns { result, project items, project bytes }: result is the project's item count after the
  push (>= 1), or -1 when full by items, -2 when full by bytes (nothing written).
]]
local results, items, bytes = pushItems(KEYS[1], KEYS[2], KEYS[3], KEYS[4], { { ARGV[1], tonumber(ARGV[2]) } }, tonumber(ARGV[3]), tonumber(ARGV[4]))
return { results[1], items, bytes }
