--[[
  Deletes an item for good (Sentry has it, or will never take it), whoever holds its lease.
  An id left in a project list (item re-queued after its lease expired) is dropped by take-5.

  KEYS[1] items     hash id -> encoded item
  KEYS[2] leased    zset id -> lease expiry
  KEYS[3] leases    hash id -> "<project>:<holder>"
  KEYS[4] attempts  hash id -> failed attempts
  KEYS[5] stats     hash of totals

  ARGV[1] item id
  ARGV[2] project id
  ARGV[3] item bytes

  Returns the farm-wide item count after the ack (unchanged when the item was already gone).
]]
redis.call("ZREM", KEYS[2], ARGV[1])
redis.call("HDEL", KEYS[3], ARGV[1])
if redis.call("HDEL", KEYS[1], ARGV[1]) == 0 then
  return tonumber(redis.call("HGET", KEYS[5], "items") or "0")
end
redis.call("HDEL", KEYS[4], ARGV[1])
local size = tonumber(ARGV[3])
redis.call("HINCRBY", KEYS[5], "bytes", -size)
if redis.call("HINCRBY", KEYS[5], ARGV[2] .. ":items", -1) <= 0 then
  redis.call("HDEL", KEYS[5], ARGV[2] .. ":items", ARGV[2] .. ":bytes")
else
  redis.call("HINCRBY", KEYS[5], ARGV[2] .. ":bytes", -size)
end
return redis.call("HINCRBY", KEYS[5], "items", -1)
