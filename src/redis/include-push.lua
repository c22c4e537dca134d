--[[
  Shared by push-4 and count-push-batch (prepended by scripts.ts): adds a batch of one project's
  items, each unless the bounds would be exceeded by it (the items before it in the batch counted).

  The bounds are the farm's (MAX_QUEUE_ITEMS, MAX_QUEUE_BYTES) less what the caller knows the
  other projects hold: every key of a script is one project's (one hash slot on a cluster), so the
  farm total is the sum of the projects' totals, each exact in its own slot (see docs/REDIS.md).

  The totals are read with one HMGET and written with one HSET, the ids come from one INCRBY, the
  bodies go in with one HSET and the ids with one RPUSH: Redis's own cost per report is mostly per
  command it executes and appends to its AOF, so a batch of n reports costs it n body writes plus
  a handful of commands instead of six commands per report.

  batch[i] = { encoded item, item bytes (number) }

  Returns the per-item results, and the project's items and bytes after the batch. A result is the
  project's item count after that item's push (>= 1), or -1 when full by items, -2 when full by
  bytes (that item not written).
]]
local function pushItems(seqKey, itemsKey, statsKey, queueKey, batch, roomItems, roomBytes)
  local stored = redis.call("HMGET", statsKey, "items", "bytes")
  local items, bytes = tonumber(stored[1] or "0"), tonumber(stored[2] or "0")

  local results, accepted = {}, {}
  for i, item in ipairs(batch) do
    local size = item[2]
    if items + 1 > roomItems then
      results[i] = -1
    elseif bytes + size > roomBytes then
      results[i] = -2
    else
      items, bytes = items + 1, bytes + size
      results[i] = items
      accepted[#accepted + 1] = item[1]
    end
  end
  if #accepted == 0 then return results, items, bytes end

  local lastId = redis.call("INCRBY", seqKey, #accepted)
  local bodies, ids = {}, {}
  for j, encoded in ipairs(accepted) do
    local id = lastId - #accepted + j
    ids[j] = id
    bodies[#bodies + 1] = id
    bodies[#bodies + 1] = encoded
  end
  redis.call("HSET", itemsKey, unpack(bodies))
  redis.call("RPUSH", queueKey, unpack(ids))
  -- %d: Lua would print large doubles in exponent form, which HINCRBY elsewhere cannot parse.
  redis.call("HSET", statsKey, "items", string.format("%d", items), "bytes", string.format("%d", bytes))
  return results, items, bytes
end
