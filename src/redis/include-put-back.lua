--[[
  Shared by take-6 and release-5 (prepended by scripts.ts): queues `id` again at the end `take`
  reads from, so it is the next one taken for its project.
]]
local function putBack(queueKey, id, newestFirst)
  if newestFirst == "1" then
    redis.call("RPUSH", queueKey, id)
  else
    redis.call("LPUSH", queueKey, id)
  end
end

local function nowMs()
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
