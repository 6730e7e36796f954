--[[
  Enqueues one validated batch of events on the event stream, each event at most once by id
  (CONTRACT §4: posting the same id twice has effect once). One script per batch, so replicas
  racing on the same id cannot both enqueue it, and a batch's markers and entries are written
  together.

  For each event: SET its seen-marker NX with the TTL; only when the marker is new, XADD the
  event (approximate MAXLEN trim). A second occurrence of an id in the same batch finds the marker
  the first one set, so it counts as a duplicate too.

  The marker keys are built here from a prefix rather than passed in KEYS. That is fine on one
  Redis (with or without replicas), and on Redis Cluster: there SSOT_NAMESPACE is a hash tag, so
  every marker hashes to the stream's slot, and Redis refuses an undeclared key in a script only
  when it is in another slot.

  If an XADD fails (e.g. out of memory), its marker is removed and the error returned: events
  before it stay enqueued, and the client's retry of the whole batch finds them as duplicates.

  Input:
    KEYS[1]  event stream
    ARGV[1]  seen-marker key prefix (marker = prefix .. the id escaped, `idKeyPart`)
    ARGV[2]  seen-marker TTL, seconds
    ARGV[3]  stream MAXLEN (approximate)
    ARGV[4…] pairs: escaped event id, event JSON (the stream entry's only field, `event`)

  Output:
    one integer per event, in order: 1 enqueued now, 0 duplicate (seen before or earlier in
    this batch)
]]
local stream, prefix, ttl, maxlen = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local result = {}
for i = 4, #ARGV, 2 do
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
