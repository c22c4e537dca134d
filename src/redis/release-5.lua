--[[
  Ends a lease by queueing the item again (not delivered; a retry), counting a failed attempt
  when asked. Only the current holder can release: a holder whose lease expired (the item was
  re-queued, maybe taken by another instance) must not queue it a second time.

  KEYS[1] queue     the project's list of queued ids
  KEYS[2] items     the project's hash id -> encoded item
  KEYS[3] leased    the project's zset id -> lease expiry
  KEYS[4] leases    the project's hash id -> holder
  KEYS[5] attempts  the project's hash id -> failed attempts

  ARGV[1] item id
  ARGV[2] holder
  ARGV[3] "1" when the attempt failed (attempts + 1)
  ARGV[4] "1" newest first, "0" oldest first

  Returns 1 when queued again, 0 when this holder no longer held the lease.
]]
if redis.call("HGET", KEYS[4], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call("ZREM", KEYS[3], ARGV[1])
redis.call("HDEL", KEYS[4], ARGV[1])
if redis.call("HEXISTS", KEYS[2], ARGV[1]) == 0 then return 0 end
if ARGV[3] == "1" then redis.call("HINCRBY", KEYS[5], ARGV[1], 1) end
putBack(KEYS[1], ARGV[1], ARGV[4])
return 1
