--[[
  Announces workers whose heartbeat lapsed (their deadline is before the cutoff): removes each from the live set
  and appends a `worker:offline` event for it, in one step, so a worker is announced exactly once
  and a crash can neither lose the announcement nor repeat it. The workers' generation is bumped
  when any was removed: a collector holding the live set as it was reads it again.

  Input:
    KEYS[1] live workers sorted set (worker id -> when its last heartbeat lapses, ms)
    KEYS[2] event stream
    KEYS[3] workers' generation counter (`workersGeneration`)

    ARGV[1] cutoff, ms: now (deadlines strictly before it have lapsed)
    ARGV[2] event stream MAXLEN (approximate)
    ARGV[3] occurred_at of the events (ISO string)
    ARGV[4] reason
    ARGV[5..] fresh event ids (UUIDs), one per worker that may be announced; their number bounds
              how many are announced in this call

  Output:
    the ids of the workers announced
]]
local limit = #ARGV - 4
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, limit)
for i, worker in ipairs(lapsed) do
  redis.call('ZREM', KEYS[1], worker)
  -- Worker ids are the platforms' own (opaque: quotes, backslashes, anything but spaces): encoded,
  -- never spliced into the JSON. Field order as the api writes events.
  local event = '{"id":' .. cjson.encode(ARGV[4 + i]) .. ',"name":"worker:offline","payload":{"worker_id":' .. cjson.encode(worker) ..
    ',"reason":' .. cjson.encode(ARGV[4]) .. '},"occurred_at":' .. cjson.encode(ARGV[3]) .. ',"source":"ssot"}'
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'event', event)
end
if #lapsed > 0 then
  redis.call('INCR', KEYS[3])
end
return lapsed
