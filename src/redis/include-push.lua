--[[
  Shared by push-5 and count-push-batch (prepended by scripts.ts): adds a batch of items, each
  unless the farm-wide bounds would be exceeded by it (the items before it in the batch counted).

  The totals are read with one HMGET and written with one HSET, the ids come from one INCRBY, the
  bodies go in with one HSET and each project's ids with one RPUSH (the script runs atomically,
  so this equals the per-item HINCRBYs ack-5 and take-5 use). Redis's own cost per report is
  mostly per command it executes and appends to its AOF, so a batch of n reports costs it n body
  writes plus a handful of commands instead of six commands per report.

  batch[i] = { queue key, encoded item, project id (string), item bytes (number) }

  Returns, per item, the farm-wide item count after its push (>= 1), or
    -1 when full by items, -2 when full by bytes (that item not written).
]]
local function pushItems(seqKey, itemsKey, statsKey, ringKey, batch, maxItems, maxBytes)
  -- Totals fields: global ones first, then two per project of the batch.
  local fields, slot = { "items", "bytes" }, {}
  for _, item in ipairs(batch) do
    local projectId = item[3]
    if not slot[projectId] then
      slot[projectId] = #fields + 1
      fields[#fields + 1] = projectId .. ":items"
      fields[#fields + 1] = projectId .. ":bytes"
    end
  end
  local stored = redis.call("HMGET", statsKey, unpack(fields))
  local totals = {}
  for i = 1, #fields do totals[i] = tonumber(stored[i] or "0") end

  local results, accepted = {}, {}
  for i, item in ipairs(batch) do
    local size, s = item[4], slot[item[3]]
    if totals[1] + 1 > maxItems then
      results[i] = -1
    elseif totals[2] + size > maxBytes then
      results[i] = -2
    else
      totals[1], totals[2] = totals[1] + 1, totals[2] + size
      totals[s], totals[s + 1] = totals[s] + 1, totals[s + 1] + size
      results[i] = totals[1]
      accepted[#accepted + 1] = item
    end
  end
  if #accepted == 0 then return results end

  local lastId = redis.call("INCRBY", seqKey, #accepted)
  local bodies, queues, queueOrder = {}, {}, {}
  for j, item in ipairs(accepted) do
    local id = lastId - #accepted + j
    bodies[#bodies + 1] = id
    bodies[#bodies + 1] = item[2]
    local queue = queues[item[1]]
    if not queue then
      queue = { ids = {}, projectId = item[3] }
      queues[item[1]] = queue
      queueOrder[#queueOrder + 1] = item[1]
    end
    queue.ids[#queue.ids + 1] = id
  end
  redis.call("HSET", itemsKey, unpack(bodies))
  for _, key in ipairs(queueOrder) do
    local queue = queues[key]
    -- The project joins the round-robin ring when its queue was empty before this push.
    if redis.call("RPUSH", key, unpack(queue.ids)) == #queue.ids then
      redis.call("RPUSH", ringKey, queue.projectId)
    end
  end
  -- %d: Lua would print large doubles in exponent form, which HINCRBY elsewhere cannot parse.
  local written = {}
  for i = 1, #fields do
    written[#written + 1] = fields[i]
    written[#written + 1] = string.format("%d", totals[i])
  end
  redis.call("HSET", statsKey, unpack(written))
  return results
end
