--[[
  Shared by take-6, ack-5 and count-push-batch (prepended by scripts.ts): the project's items and
  bytes (leased included), which every script returns so the client knows the farm's totals.
]]
local function projectTotals(statsKey)
  local stored = redis.call("HMGET", statsKey, "items", "bytes")
  return tonumber(stored[1] or "0"), tonumber(stored[2] or "0")
end
