--[[
  Counts one occurrence of a flood key in its window (countFlood, include-count.lua), in one
  round trip.

  KEYS[1] the counter key
  ARGV[1] window length, ms (>= 1)

  Returns the count in the current window (1 for the first).
]]
return countFlood(KEYS[1], ARGV[1])
