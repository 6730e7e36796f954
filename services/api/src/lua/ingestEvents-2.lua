--[[
  One POST /api/events in one round trip: the ingest token's rate limit, then the batch on the
  event stream, each event at most once by id (CONTRACT §4–5). Both in one script, so a batch
  costs one command, and replicas racing on the same id cannot both enqueue it.

  Rate limit: a fixed one-second window shared by every api replica. The batch's events (`cost`)
  are admitted unless that would take the window past `limit`; a refused batch consumes nothing
  and enqueues nothing, so it can be retried as soon as the window has room. A batch costing more
  than the whole limit is admitted into an empty window only — otherwise it could never pass.

  Enqueue: for each event, SET its seen-marker NX with the TTL; only when the marker is new, XADD
  the event (approximate MAXLEN trim). A second occurrence of an id in the same batch finds the
  marker the first one set, so it counts as a duplicate too.

  The marker keys are built here from a prefix rather than passed in KEYS. That is fine on one
  Redis (with or without replicas), and on Redis Cluster: there SSOT_NAMESPACE is a hash tag, so
  every marker hashes to the stream's slot, and Redis refuses an undeclared key in a script only
  when it is in another slot.

  If an XADD fails (e.g. out of memory), its marker is removed and the error returned: events
  before it stay enqueued, and the client's retry of the whole batch finds them as duplicates.

  Input:
    KEYS[1]  event stream
    KEYS[2]  the token's rate window counter (created with the window's TTL by its first admission)
    ARGV[1]  rate limit per window, events
    ARGV[2]  window length, ms
    ARGV[3]  seen-marker key prefix (marker = prefix .. the id escaped, `idKeyPart`)
    ARGV[4]  seen-marker TTL, seconds
    ARGV[5]  stream MAXLEN (approximate)
    ARGV[6…] pairs: escaped event id, event JSON (the stream entry's only field, `event`)

  Output:
    { 1, flag… }       admitted: one flag per event, in order: 1 enqueued now, 0 duplicate (seen
                       before or earlier in this batch)
    { 0, used, pttl }  refused by the rate limit: the window holds `used` and ends in `pttl` ms
]]
local stream, window = KEYS[1], KEYS[2]
local limit, windowMs = tonumber(ARGV[1]), ARGV[2]
local prefix, ttl, maxlen = ARGV[3], ARGV[4], ARGV[5]
local cost = (#ARGV - 5) / 2

local used = tonumber(redis.call('GET', window) or '0')
if used > 0 and used + cost > limit then
  return { 0, used, redis.call('PTTL', window) }
end
redis.call('INCRBY', window, cost)
-- A counter without TTL would never reset: give it one whenever it has none (new window).
if redis.call('PTTL', window) < 0 then
  redis.call('PEXPIRE', window, windowMs)
end

local result = { 1 }
for i = 6, #ARGV, 2 do
  local marker = prefix .. ARGV[i]
  -- SET … NX answers a nil bulk (false in Lua) when the marker already exists.
  if redis.call('SET', marker, '1', 'NX', 'EX', ttl) then
    local added = redis.pcall('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'event', ARGV[i + 1])
    if type(added) == 'table' and added.err then
      redis.call('DEL', marker)
      return redis.error_reply(added.err)
    end
    result[#result + 1] = 1
  else
    result[#result + 1] = 0
  end
end
return result
