--[[
  Reads the entries of a BullMQ event stream after a position together with what the bridge
  needs of each entry's job, in one round trip (the bridge's CPU goes mostly on round trips).
  The job hashes are read in the same step as the entries, so they describe the jobs as of the
  last entry read.

  Input:
    KEYS[1] the queue's event stream, `{prefix}:{queue}:events`

    ARGV[1] read after this entry id (exclusive); `0` for the start
    ARGV[2] most entries
    ARGV[3] the queue's key prefix, `{prefix}:{queue}:` (a job's hash is that and its id)

  Output:
    { entries-added, length, entries }: the stream's count of entries ever added and its length
      now (their difference is how many BullMQ trimmed from its head), and one element per entry:
      { id, { field, value, … }, facts }
    facts: for an entry about a job, its hash's { name, atm, pb, processedOn, finishedOn, data }
      (nil where unset; `data` only for `added`, the entry that needs it); an empty table for
      entries about no job
]]
local JOB_EVENTS = {
  added = true, waiting = true, delayed = true, ['waiting-children'] = true, active = true,
  progress = true, completed = true, failed = true, removed = true,
}
local added, length = 0, 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for k = 1, #info, 2 do
    if info[k] == 'entries-added' then added = info[k + 1] elseif info[k] == 'length' then length = info[k + 1] end
  end
end
local start = ARGV[1] == '0' and '-' or '(' .. ARGV[1]
local entries = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', tonumber(ARGV[2]))
local out = {}
for i, entry in ipairs(entries) do
  local fields = entry[2]
  local event, jobId
  for f = 1, #fields, 2 do
    if fields[f] == 'event' then event = fields[f + 1] elseif fields[f] == 'jobId' then jobId = fields[f + 1] end
  end
  local facts = {}
  if jobId and JOB_EVENTS[event] and event ~= 'removed' then
    local key = ARGV[3] .. jobId
    if event == 'added' then
      facts = redis.call('HMGET', key, 'name', 'atm', 'pb', 'processedOn', 'finishedOn', 'data')
    else
      facts = redis.call('HMGET', key, 'name', 'atm', 'pb', 'processedOn', 'finishedOn')
    end
  end
  out[i] = { entry[1], fields, facts }
end
return { added, length, out }
