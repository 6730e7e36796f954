--[[
  Announces workers whose last heartbeat is older than the cutoff: removes each from the live set
  and appends a `worker:offline` event for it, in one step, so a worker is announced exactly once
  and a crash can neither lose the announcement nor repeat it.

  Input:
    KEYS[1] live workers sorted set (worker id -> last heartbeat, ms)
    KEYS[2] event stream

    ARGV[1] cutoff, ms (heartbeats strictly older lapse)
    ARGV[2] event stream MAXLEN (approximate)
    ARGV[3] occurred_at of the events (ISO string)
    ARGV[4] reason (a JSON string, quotes included)
    ARGV[5..] fresh event ids (UUIDs), one per worker that may be announced; their number bounds
              how many are announced in this call

  Output:
    the ids of the workers announced
]]
local limit = #ARGV - 4
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, limit)
for i, worker in ipairs(lapsed) do
  redis.call('ZREM', KEYS[1], worker)
  local event = '{"id":"' .. ARGV[4 + i] .. '","name":"worker:offline","payload":{"worker_id":"' .. worker ..
    '","reason":' .. ARGV[4] .. '},"occurred_at":"' .. ARGV[3] .. '"}'
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'event', event)
end
return lapsed
