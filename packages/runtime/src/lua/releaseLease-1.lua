--[[
  Gives the lease up, only if the caller holds it (a clean shutdown hands over at once).

  Input:
    KEYS[1] lease key
    ARGV[1] owner id

  Output:
    1 when released, else 0
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
