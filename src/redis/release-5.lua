--[[
  Ends a lease by queueing the item again (not delivered; a retry), counting a failed attempt
  when asked. Only the current holder can release: a holder whose lease expired (the item was
  re-queued, maybe taken by another instance) must not queue it a second time.

  KEYS[1] ring      list of projects with queued items
  KEYS[2] items     hash id -> encoded item
  KEYS[3] leased    zset id -> lease expiry
  KEYS[4] leases    hash id -> "<project>:<holder>"
  KEYS[5] attempts  hash id -> failed attempts

  ARGV[1] prefix of project list keys (the project id is appended)
  ARGV[2] item id
  ARGV[3] project id
  ARGV[4] holder
  ARGV[5] "1" when the attempt failed (attempts + 1)
  ARGV[6] "1" newest first, "0" oldest first

  Returns 1 when queued again, 0 when this holder no longer held the lease.
]]
if redis.call("HGET", KEYS[4], ARGV[2]) ~= ARGV[3] .. ":" .. ARGV[4] then return 0 end
redis.call("ZREM", KEYS[3], ARGV[2])
redis.call("HDEL", KEYS[4], ARGV[2])
if redis.call("HEXISTS", KEYS[2], ARGV[2]) == 0 then return 0 end
if ARGV[5] == "1" then redis.call("HINCRBY", KEYS[5], ARGV[2], 1) end
putBack(ARGV[1], KEYS[1], ARGV[3], ARGV[2], ARGV[6])
return 1
