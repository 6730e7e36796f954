--[[
  Stores the sections of one build and writes the snapshot assembled from every section's latest
  value, with the next version. Atomic, so concurrent collector replicas never interleave: each
  write gets a strictly greater version, and a section built earlier never overwrites one built
  later (build sequence numbers), so no section update is lost.

  Sections are kept as raw JSON strings and joined by concatenation: decoding and re-encoding
  them with cjson would turn empty arrays into objects and round numbers.

  Input:
    KEYS[1] sections hash        (name -> section JSON)
    KEYS[2] section seq hash     (name -> build seq of the stored value)
    KEYS[3] section errors hash  (name -> JSON string of the last failure)
    KEYS[4] version counter
    KEYS[5] snapshot key         (written with EX ttl)
    KEYS[6] last-good key        (written without TTL)

    ARGV[1] build seq of this build
    ARGV[2] snapshot TTL, seconds
    ARGV[3] generated_at (ISO string)
    ARGV[4] build_ms
    ARGV[5] section order, comma separated (every section of the snapshot)
    ARGV[6] version channel
    ARGV[7] announcement fields about the requests answered, a JSON fragment:
            `"requests":[ids…]` and optionally `,"events_upto":"<stream id>"`
    ARGV[8] patch channel
    ARGV[9] base version of the patch: the version the collector's ops (ARGV[10]) were computed
            against; '0' for no patch
    ARGV[10] the collector's JSON Patch ops for the sections it built, comma-joined without the
            brackets (may be empty)
    ARGV[11] number of built sections N, then N pairs: name, JSON
    then    number of failed sections M, then M triples: name, message JSON string, empty-value JSON

  The patch (CONTRACT §6 `ssot:update`) goes out only when it is exact: the version it was
  computed against is the one this write replaces (no other write came in between the
  collector's read of the values it diffed against and this script), and every built section
  was stored (none was newer already). It is published on the patch channel, before the
  announcement, as `<version> <base version>` LF `[ops…]`, the first op replacing `/meta`.
  Otherwise no patch: subscribers fetch the snapshot as they would without one.

  Output:
    { 'ok', version, bytes, 'patched' | 'unpatched' }  written and announced, with or without its patch
    { 'missing', name1, name2, ... }                   some section has never been built: nothing
                                                       was written but the sections of this build
                                                       (build the missing ones and write again)
]]
local seq = tonumber(ARGV[1])
local base = ARGV[9]
local patchable = base ~= '0' and base == (redis.call('GET', KEYS[4]) or '0')
local i = 11

local changed = {}
local nBuilt = tonumber(ARGV[i]); i = i + 1
for _ = 1, nBuilt do
  local name, json = ARGV[i], ARGV[i + 1]; i = i + 2
  local current = tonumber(redis.call('HGET', KEYS[2], name) or '0')
  if seq >= current then
    redis.call('HSET', KEYS[1], name, json)
    redis.call('HSET', KEYS[2], name, seq)
    redis.call('HDEL', KEYS[3], name)
    changed[#changed + 1] = '"' .. name .. '"'
  else
    patchable = false
  end
end

local nFailed = tonumber(ARGV[i]); i = i + 1
for _ = 1, nFailed do
  local name, message, empty = ARGV[i], ARGV[i + 1], ARGV[i + 2]; i = i + 3
  local current = tonumber(redis.call('HGET', KEYS[2], name) or '0')
  -- A failure older than the stored value says nothing about it.
  if seq >= current then redis.call('HSET', KEYS[3], name, message) end
  -- With no previous value at all, serve the section's empty form, flagged by the error.
  if redis.call('HSETNX', KEYS[1], name, empty) == 1 then patchable = false end
end

local order = {}
for name in string.gmatch(ARGV[5], '[^,]+') do order[#order + 1] = name end
local values = redis.call('HMGET', KEYS[1], unpack(order))
local missing = { 'missing' }
for idx, name in ipairs(order) do
  if not values[idx] then missing[#missing + 1] = name end
end
if #missing > 1 then return missing end

local errorParts = {}
local errors = redis.call('HGETALL', KEYS[3])
for e = 1, #errors, 2 do errorParts[#errorParts + 1] = '"' .. errors[e] .. '":' .. errors[e + 1] end
local stale = (#errorParts > 0) and 'true' or 'false'

-- The version never goes backwards, even after Redis lost its data (a restart without
-- persistence, a failover to an empty replica), which would restart a bare counter at 1 and hand
-- clients numbers they have already seen: it is floored at the server's clock in milliseconds.
-- Builds are far fewer than 1,000 a second, so the counter stays within a few of the clock.
local now = redis.call('TIME')
local clockMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local version = redis.call('INCR', KEYS[4])
if version < clockMs then
  version = clockMs
  redis.call('SET', KEYS[4], string.format('%d', version))
end
version = string.format('%d', version)
local meta = '{"version":' .. version .. ',"generated_at":"' .. ARGV[3] .. '","build_ms":' .. ARGV[4] ..
  ',"stale":' .. stale .. ',"errors":{' .. table.concat(errorParts, ',') .. '}}'
-- The body is assembled in place with APPEND and copied to last-good server-side: the section
-- values never pass through a Lua concatenation of the whole body, which cost 2.8x as much
-- (280 against 100 us for a 60 KB snapshot, BENCHMARKS.md 2026-12-07) while every other client
-- of this Redis waited. APPEND grows the snapshot key's buffer ahead of need; COPY's is exact.
redis.call('SET', KEYS[5], '{"meta":' .. meta, 'EX', ARGV[2])
for idx, name in ipairs(order) do
  redis.call('APPEND', KEYS[5], ',"' .. name .. '":')
  redis.call('APPEND', KEYS[5], values[idx])
end
local bytes = redis.call('APPEND', KEYS[5], '}')
redis.call('COPY', KEYS[5], KEYS[6], 'REPLACE')
redis.call('PERSIST', KEYS[6])

if patchable then
  local ops = '{"op":"replace","path":"/meta","value":' .. meta .. '}'
  if ARGV[10] ~= '' then ops = ops .. ',' .. ARGV[10] end
  redis.call('PUBLISH', ARGV[8], version .. ' ' .. base .. '\n[' .. ops .. ']')
end

-- complete: every section is current (none is carried over from an earlier build).
local complete = (#errorParts == 0) and 'true' or 'false'
redis.call('PUBLISH', ARGV[6], '{"version":' .. version .. ',"sections":[' .. table.concat(changed, ',') ..
  '],' .. ARGV[7] .. ',"generated_at":"' .. ARGV[3] .. '","bytes":' .. bytes ..
  ',"complete":' .. complete .. (patchable and (',"base_version":' .. base) or '') .. '}')
return { 'ok', version, bytes, patchable and 'patched' or 'unpatched' }
