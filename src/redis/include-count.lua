--[[
  Shared by incr-1 and count-push-batch (prepended by scripts.ts): counts one occurrence of a flood
  key in its fixed window. The window starts at the first increment (the expiry is set only then,
  never extended); the PTTL check also repairs a key that somehow lost its expiry, so no key is
  muted forever. Returns the count in the current window (1 for the first).
]]
local function countFlood(key, windowMs)
  local n = redis.call("INCR", key)
  if n == 1 or redis.call("PTTL", key) < 0 then
    redis.call("PEXPIRE", key, windowMs)
  end
  return n
end
