--[[
  Shared by push-5 and count-push-6 (prepended by scripts.ts): adds one item unless the
  farm-wide bounds would be exceeded. The totals are read with one HMGET and written with one
  HSET (the script runs atomically, so this equals the HINCRBYs ack-5 and take-5 use), which
  keeps the commands Redis executes and appends to its AOF per report to five or six.

  Returns the farm-wide item count after the push (>= 1), or
    -1 when full by items, -2 when full by bytes (nothing written).
]]
local function pushItem(seqKey, itemsKey, statsKey, ringKey, queueKey, encoded, projectId, size, maxItems, maxBytes)
  local projectItems, projectBytes = projectId .. ":items", projectId .. ":bytes"
  local totals = redis.call("HMGET", statsKey, "items", "bytes", projectItems, projectBytes)
  local items = tonumber(totals[1] or "0")
  local bytes = tonumber(totals[2] or "0")
  if items + 1 > maxItems then return -1 end
  if bytes + size > maxBytes then return -2 end

  local id = redis.call("INCR", seqKey)
  redis.call("HSET", itemsKey, id, encoded)
  if redis.call("RPUSH", queueKey, id) == 1 then
    redis.call("RPUSH", ringKey, projectId)
  end
  -- %d: Lua would print large doubles in exponent form, which HINCRBY elsewhere cannot parse.
  redis.call("HSET", statsKey,
    "items", string.format("%d", items + 1),
    "bytes", string.format("%d", bytes + size),
    projectItems, string.format("%d", tonumber(totals[3] or "0") + 1),
    projectBytes, string.format("%d", tonumber(totals[4] or "0") + size))
  return items + 1
end
