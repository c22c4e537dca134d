--[[
  Adds one item (pushItems, include-push.lua), unless the farm-wide bounds would be exceeded.

  KEYS[1] seq       counter giving item ids
  KEYS[2] items     hash id -> encoded item
  KEYS[3] stats     hash of totals ("items", "bytes", "<project>:items", "<project>:bytes")
  KEYS[4] ring      list of projects with queued items (round-robin order)
  KEYS[5] queue     this project's list of queued ids

  ARGV[1] encoded item (binary)
  ARGV[2] project id
  ARGV[3] item bytes (body length, what the byte bound counts)
  ARGV[4] max items
  ARGV[5] max bytes

  Returns the farm-wide item count after the push (>= 1), or
    -1 when full by items, -2 when full by bytes (nothing written).
]]
return pushItems(KEYS[1], KEYS[2], KEYS[3], KEYS[4], { { KEYS[5], ARGV[1], ARGV[2], tonumber(ARGV[3]) } }, tonumber(ARGV[4]), tonumber(ARGV[5]))[1]
