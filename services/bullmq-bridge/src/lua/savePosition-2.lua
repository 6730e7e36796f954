--[[
  Saves how far a queue's event stream has been carried into the SSOT, with the job states the
  entries up to there left, in one step: a crash leaves either both or neither, so reading again
  from the saved position recomputes exactly the same events (the same ids) and states.

  Fenced: nothing is written unless the new position is past the saved one, so a replica that
  lost the queue's lease while it worked cannot move the position back or write states older
  than the ones saved.

  Input:
    KEYS[1] positions hash (queue -> `{stream entry id} {n}`, n: the entries of the stream up to
            that one, read or trimmed)
    KEYS[2] the queue's job states hash (BullMQ job id -> state JSON)

    ARGV[1] queue
    ARGV[2] the new position: `{stream entry id ms-seq} {n}` (compared by the id)
    ARGV[3] n: how many states to write
    ARGV[4 .. 3 + 2n] job id, state JSON, … (written)
    ARGV[4 + 2n ..] job ids whose state is forgotten (deleted)

  Output:
    1 saved, 0 not past the saved position (nothing written)
]]
-- The entry id at the start of a position (`ms-seq`, then ` n`), as numbers.
local function parse(position)
  local ms, seq = string.match(position or '0-0', '^(%d+)-(%d+)')
  if not ms then return 0, 0 end
  return tonumber(ms), tonumber(seq)
end

local saved = redis.call('HGET', KEYS[1], ARGV[1])
if saved then
  local sm, ss = parse(saved)
  local nm, ns = parse(ARGV[2])
  if nm < sm or (nm == sm and ns <= ss) then return 0 end
end

redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
-- In slices: unpack() of thousands of arguments would overflow Lua's C stack.
local SLICE = 1000
local n = tonumber(ARGV[3])
local last = 3 + 2 * n
for from = 4, last, 2 * SLICE do
  redis.call('HSET', KEYS[2], unpack(ARGV, from, math.min(from + 2 * SLICE - 1, last)))
end
for from = last + 1, #ARGV, SLICE do
  redis.call('HDEL', KEYS[2], unpack(ARGV, from, math.min(from + SLICE - 1, #ARGV)))
end
return 1
