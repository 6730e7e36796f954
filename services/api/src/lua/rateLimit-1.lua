--[[
  A fixed one-window rate limit shared by every api replica: admits `cost` units into the
  window at KEYS[1] unless that would take it past `limit`. A refused request consumes nothing,
  so what was refused can be retried as soon as the window has room. A request costing more than
  the whole limit is admitted into an empty window only — otherwise it could never pass.

  Input:
    KEYS[1]  window counter (created with the window's TTL by its first admission)
    ARGV[1]  cost of this request (events in the batch)
    ARGV[2]  limit per window
    ARGV[3]  window length, ms

  Output:
    { 1, used }        admitted; `used` counts this request
    { 0, used, pttl }  refused; the window holds `used` and ends in `pttl` ms
]]
local cost, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used > 0 and used + cost > limit then
  return { 0, used, redis.call('PTTL', KEYS[1]) }
end
used = redis.call('INCRBY', KEYS[1], cost)
-- A counter without TTL would never reset: give it one whenever it has none (new window).
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return { 1, used }
