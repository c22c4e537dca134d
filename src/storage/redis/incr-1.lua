--[[
  Counts one occurrence of a flood key in its fixed window, in one round trip.
  The window starts at the first increment (the expiry is set only then, never extended); the
  PTTL check also repairs a key that somehow lost its expiry, so no key is muted forever.

  KEYS[1] the counter key
  ARGV[1] window length, ms (>= 1)

  Returns the count in the current window (1 for the first).
]]
local n = redis.call("INCR", KEYS[1])
if n == 1 or redis.call("PTTL", KEYS[1]) < 0 then
  redis.call("PEXPIRE", KEYS[1], ARGV[1])
end
return n
