--[[
  Deletes an item for good (Sentry has it, or will never take it), whoever holds its lease.
  An id left in the project's list (item re-queued after its lease expired) is dropped by take-6.

  KEYS[1] items     the project's hash id -> encoded item
  KEYS[2] leased    the project's zset id -> lease expiry
  KEYS[3] leases    the project's hash id -> holder
  KEYS[4] attempts  the project's hash id -> failed attempts
  KEYS[5] stats     the project's totals

  ARGV[1] item id
  ARGV[2] item bytes

  Returns { project items, project bytes } after the ack (unchanged when the item was already gone).
]]
redis.call("ZREM", KEYS[2], ARGV[1])
redis.call("HDEL", KEYS[3], ARGV[1])
if redis.call("HDEL", KEYS[1], ARGV[1]) == 1 then
  redis.call("HDEL", KEYS[4], ARGV[1])
  redis.call("HINCRBY", KEYS[5], "bytes", -tonumber(ARGV[2]))
  redis.call("HINCRBY", KEYS[5], "items", -1)
end
local items, bytes = projectTotals(KEYS[5])
return { items, bytes }
