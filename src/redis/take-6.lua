--[[
  Leases up to ARGV[1] items of one project (the round-robin across projects is the client's:
  storage/redis/take.ts).

  First re-queues the project's items whose lease expired (their holder died or hung), so they
  are delivered by whoever takes next. Ids whose item is gone (acked while re-queued) are dropped
  on the way.

  KEYS[1] items     the project's hash id -> encoded item
  KEYS[2] queue     the project's list of queued ids
  KEYS[3] leased    the project's zset id -> lease expiry (ms, Redis clock)
  KEYS[4] leases    the project's hash id -> holder
  KEYS[5] attempts  the project's hash id -> failed attempts
  KEYS[6] stats     the project's totals

  ARGV[1] max items
  ARGV[2] "1" newest first, "0" oldest first
  ARGV[3] lease duration, ms
  ARGV[4] holder (the taking instance's token)

  Returns a flat array: project items, project bytes, then id, encoded item, attempts, id, ...
]]
local max, newestFirst = tonumber(ARGV[1]), ARGV[2]
local now = nowMs()

local expired = redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", now, "LIMIT", 0, 1000)
for _, id in ipairs(expired) do
  redis.call("ZREM", KEYS[3], id)
  redis.call("HDEL", KEYS[4], id)
  if redis.call("HEXISTS", KEYS[1], id) == 1 then putBack(KEYS[2], id, newestFirst) end
end

local items, bytes = projectTotals(KEYS[6])
local out = { items, bytes }
local taken = 0
local leaseUntil = now + tonumber(ARGV[3])
while taken < max do
  local id
  if newestFirst == "1" then id = redis.call("RPOP", KEYS[2]) else id = redis.call("LPOP", KEYS[2]) end
  if not id then break end
  local encoded = redis.call("HGET", KEYS[1], id)
  if encoded then
    redis.call("ZADD", KEYS[3], leaseUntil, id)
    redis.call("HSET", KEYS[4], id, ARGV[4])
    out[#out + 1] = id
    out[#out + 1] = encoded
    out[#out + 1] = redis.call("HGET", KEYS[5], id) or "0"
    taken = taken + 1
  end
end
return out
