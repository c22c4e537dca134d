--[[
  Adds one item, unless the farm-wide bounds would be exceeded.

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
local items = tonumber(redis.call("HGET", KEYS[3], "items") or "0")
local bytes = tonumber(redis.call("HGET", KEYS[3], "bytes") or "0")
local size = tonumber(ARGV[3])
if items + 1 > tonumber(ARGV[4]) then return -1 end
if bytes + size > tonumber(ARGV[5]) then return -2 end

local id = redis.call("INCR", KEYS[1])
redis.call("HSET", KEYS[2], id, ARGV[1])
if redis.call("RPUSH", KEYS[5], id) == 1 then
  redis.call("RPUSH", KEYS[4], ARGV[2])
end
redis.call("HINCRBY", KEYS[3], "bytes", size)
redis.call("HINCRBY", KEYS[3], ARGV[2] .. ":items", 1)
redis.call("HINCRBY", KEYS[3], ARGV[2] .. ":bytes", size)
return redis.call("HINCRBY", KEYS[3], "items", 1)
