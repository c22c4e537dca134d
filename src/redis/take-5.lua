--[[
  Leases up to ARGV[2] items, round-robin across the farm's projects.

  First re-queues items whose lease expired (their holder died or hung), so they are delivered by
  whoever takes next. Then rotates the ring: pops a project from the front, takes one id from its
  list (newest or oldest end), and pushes the project to the back while it still has items.
  Paused projects are rotated without taking; a full turn without taking ends the loop.
  Ids whose item is gone (acked while re-queued) are dropped on the way.

  KEYS[1] ring      list of projects with queued items
  KEYS[2] items     hash id -> encoded item
  KEYS[3] leased    zset id -> lease expiry (ms, Redis clock)
  KEYS[4] leases    hash id -> "<project>:<holder>"
  KEYS[5] attempts  hash id -> failed attempts

  ARGV[1] prefix of project list keys (the project id is appended; same hash tag as KEYS)
  ARGV[2] max items
  ARGV[3] "1" newest first, "0" oldest first
  ARGV[4] lease duration, ms
  ARGV[5] holder (the taking instance's token)
  ARGV[6..] paused project ids

  Returns a flat array: id, encoded item, attempts, id, encoded item, attempts, ...
]]
local projectPrefix, max, newestFirst = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local now = nowMs()

local expired = redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", now, "LIMIT", 0, 1000)
for _, id in ipairs(expired) do
  local lease = redis.call("HGET", KEYS[4], id)
  redis.call("ZREM", KEYS[3], id)
  redis.call("HDEL", KEYS[4], id)
  if lease and redis.call("HEXISTS", KEYS[2], id) == 1 then
    putBack(projectPrefix, KEYS[1], string.match(lease, "^([^:]+)"), id, newestFirst)
  end
end

local paused = {}
for i = 6, #ARGV do paused[ARGV[i]] = true end

local out = {}
local taken, idle = 0, 0
local leaseUntil = now + tonumber(ARGV[4])
while taken < max do
  local ringLen = redis.call("LLEN", KEYS[1])
  if ringLen == 0 or idle >= ringLen then break end
  local projectId = redis.call("LPOP", KEYS[1])
  local queueKey = projectPrefix .. projectId
  if paused[projectId] then
    redis.call("RPUSH", KEYS[1], projectId)
    idle = idle + 1
  else
    idle = 0
    local id
    if newestFirst == "1" then id = redis.call("RPOP", queueKey) else id = redis.call("LPOP", queueKey) end
    if id then
      local encoded = redis.call("HGET", KEYS[2], id)
      if encoded then
        redis.call("ZADD", KEYS[3], leaseUntil, id)
        redis.call("HSET", KEYS[4], id, projectId .. ":" .. ARGV[5])
        out[#out + 1] = id
        out[#out + 1] = encoded
        out[#out + 1] = redis.call("HGET", KEYS[5], id) or "0"
        taken = taken + 1
      end
    end
    if redis.call("LLEN", queueKey) > 0 then
      redis.call("RPUSH", KEYS[1], projectId)
    end
  end
end
return out
