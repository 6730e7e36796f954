--[[
  Takes the lease, or renews it when the caller already holds it.

  Input:
    KEYS[1] lease key
    ARGV[1] owner id (unique per process)
    ARGV[2] lease time, ms

  Output:
    1 when the caller holds the lease after this call, else 0
]]
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
