--[[
  Shared by take-5 and release-5 (prepended by scripts.ts): queues `id` again at the end `take`
  reads from, so it is the next one taken for its project, and puts the project back in the
  round-robin ring when its list was empty.
]]
local function putBack(projectPrefix, ringKey, projectId, id, newestFirst)
  local queueKey = projectPrefix .. projectId
  local len
  if newestFirst == "1" then
    len = redis.call("RPUSH", queueKey, id)
  else
    len = redis.call("LPUSH", queueKey, id)
  end
  if len == 1 then
    redis.call("RPUSH", ringKey, projectId)
  end
end

local function nowMs()
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
