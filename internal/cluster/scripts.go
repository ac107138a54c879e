package cluster

import "github.com/redis/go-redis/v9"

// The Lua scripts. Each runs atomically inside Redis, which is what makes a
// lease check and the write it guards one step: no other node's command
// can fall between them. Time inside a script is Redis's own (TIME), so
// expiry scores and key TTLs come from one clock whatever the nodes'
// clocks say.

// luaNow is Redis's clock in milliseconds.
const luaNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// luaHold keeps this node's lease alive, and is the one fencing rule:
// the caller holds the room when the lease names it with its fence; when
// the lease has expired but nobody claimed the room since (the fence
// counter still says its fence, or was lost with a Redis that came back
// empty) the caller takes it back with the same fence. Anything else
// means another node took the room over.
//
// KEYS: lease, fence, leases; ARGV: holder ("<fence>:<node>"), fence, ttl ms, room
const luaHold = luaNow + `
local function hold()
  local cur = redis.call('GET', KEYS[1])
  if cur ~= ARGV[1] then
    if cur then return false end
    local f = redis.call('GET', KEYS[2])
    if f and f ~= ARGV[2] then return false end
    if not f then redis.call('SET', KEYS[2], ARGV[2]) end
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  else
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
  end
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[4])
  return true
end
`

// claimScript takes a room whose lease is free (a new room, or one whose
// holder stopped renewing), or refreshes one the caller already holds.
// A new holder gets the next fence: INCR makes it unique and monotonic,
// and minFence keeps it above any fence the caller saw before a Redis
// that lost its data.
//
// KEYS: lease, fence, leases; ARGV: node, ttl ms, room, minFence
// Returns {won (1/0), fence, holder}.
var claimScript = redis.NewScript(luaNow + `
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, ':', 1, true)
  local f, holder = string.sub(cur, 1, sep - 1), string.sub(cur, sep + 1)
  if holder ~= ARGV[1] then return {0, f, holder} end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[3])
  return {1, f, holder}
end
local f = redis.call('INCR', KEYS[2])
if f < tonumber(ARGV[4]) then
  f = tonumber(ARGV[4])
  redis.call('SET', KEYS[2], f)
end
redis.call('SET', KEYS[1], f .. ':' .. ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[3])
return {1, tostring(f), ARGV[1]}
`)

// renewScript extends a held lease. KEYS: lease, fence, leases, state;
// ARGV as luaHold. Returns -1 when fenced, else whether the state exists
// (0 after a Redis that lost its data: the holder writes it again).
var renewScript = redis.NewScript(luaHold + `
if not hold() then return -1 end
return redis.call('EXISTS', KEYS[4])
`)

// saveScript writes the room's state if the caller holds the lease and the
// version is newer than the stored one (an older write arriving late
// never overwrites a newer one). KEYS: lease, fence, leases, state;
// ARGV: as luaHold, then version, blob.
var saveScript = redis.NewScript(luaHold + `
if not hold() then return redis.error_reply('FENCED lease held by another node') end
local v = tonumber(redis.call('HGET', KEYS[4], 'v') or '0')
if tonumber(ARGV[5]) <= v then return redis.error_reply('STALE ' .. v) end
redis.call('HSET', KEYS[4], 'v', ARGV[5], 'f', ARGV[2], 'b', ARGV[6])
return 1
`)

// endScript forgets an ended room. The fence counter moves on (so the
// ended lease cannot be taken back by luaHold) and outlives the room for
// retention ms, so a new room under the same id gets a larger fence.
// KEYS: lease, fence, leases, state; ARGV: as luaHold, then retention ms.
var endScript = redis.NewScript(luaHold + `
if not hold() then return redis.error_reply('FENCED lease held by another node') end
redis.call('DEL', KEYS[1], KEYS[4])
redis.call('ZREM', KEYS[3], ARGV[4])
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
`)

// releaseScript gives a held room up for takeover at once (a node that
// drains); the fence moves on so the releaser cannot take it back.
// KEYS: lease, leases, fence; ARGV: holder, room. Returns 1 if released.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
return 1
`)

// orphansScript lists rooms whose lease expired by Redis's clock. The
// score says when; the lease key's own absence confirms it (Redis may
// stamp a TTL and TIME from different readings of its clock, so a key
// can outlive its score by a millisecond). The lease keys are built from
// the prefix here, so this script needs one Redis, as the layout does.
// KEYS: leases; ARGV: limit, key prefix.
var orphansScript = redis.NewScript(luaNow + `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, id in ipairs(ids) do
  if redis.call('EXISTS', ARGV[2] .. 'room:' .. id .. ':lease') == 0 then
    table.insert(out, id)
  end
end
return out
`)

// heartbeatScript registers a node until now+ttl. KEYS: node, nodes;
// ARGV: id, info, ttl ms.
var heartbeatScript = redis.NewScript(luaNow + `
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
return 1
`)

// liveNodesScript drops nodes whose heartbeat expired and lists the rest.
// KEYS: nodes.
var liveNodesScript = redis.NewScript(luaNow + `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
`)
