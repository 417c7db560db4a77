"""The Lua scripts that keep the quota's counters in Redis, and the keys they keep them in.

Each script runs atomically, so what it checks and what it changes cannot be interleaved with
another replica's: admission, settlement, lease renewal and reading today's usage.
"""

from __future__ import annotations

from datetime import date

DAY_TTL_S = 2 * 24 * 3600

# Three kinds of key per scope. `inflight` holds the concurrency slots: ticket ids scored by
# lease expiry. `reserved` (one per day) holds each in-flight ticket's reservation,
# "tokens:cost", and their sums `t` and `c`. `day` holds what settled requests used, `t` and
# `c`. A cap is checked against day + reserved. A reservation lives exactly as long as its
# slot: when a lease lapses (its holder died), the first script to see it drops both — a
# dead request's worst case is never charged for the rest of the day.
LEASES = """
local function release(reserved, ticket)
  local held = redis.call('HGET', reserved, ticket)
  if not held then return end
  redis.call('HDEL', reserved, ticket)
  local t, c = string.match(held, '^(%d+):(%d+)$')
  -- Strings, not Lua numbers: a number past 1e14 would reach Redis in exponent form.
  if t ~= '0' then redis.call('HINCRBY', reserved, 't', '-' .. t) end
  if c ~= '0' then redis.call('HINCRBY', reserved, 'c', '-' .. c) end
end

local function lapse(inflight, reserved, now)
  local gone = redis.call('ZRANGEBYSCORE', inflight, '-inf', now)
  if #gone == 0 then return end
  redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now)
  for _, ticket in ipairs(gone) do release(reserved, ticket) end
end

-- A lease key lives until its last lease ends, and no less: the reservations key expiring
-- with its slots is what keeps a dead ticket from outliving its reservation.
local function outlive(key, lease_until, now)
  local ttl = redis.call('PTTL', key)
  if ttl == -1 or (ttl >= 0 and now + ttl < lease_until) then
    redis.call('PEXPIREAT', key, lease_until)
  end
end
"""

# KEYS: each scope's inflight, reserved and day keys, then the day's seed marker. Returns
# {0, the seeding's generation} when admitted, {i, limit, used} when scope i refuses, and
# {-1} when the day's counters are not seeded (Redis was flushed or restarted, or the day is
# new): the caller puts back its own tickets, seeds the counters from the recorded metadata
# and tries again, rather than count from zero.
ACQUIRE = (
    LEASES
    + """
local now, lease_until = tonumber(ARGV[1]), tonumber(ARGV[2])
local ticket, tokens, cost = ARGV[3], ARGV[4], ARGV[5]
local n = (#KEYS - 1) / 3
local generation = redis.call('GET', KEYS[#KEYS])
if not generation then return {-1} end
for i = 1, n do
  local inflight, reserved, day = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local base = 5 + (i - 1) * 4
  local climit = tonumber(ARGV[base + 1])
  local tcap = tonumber(ARGV[base + 2])
  local ccap = tonumber(ARGV[base + 3])
  local binding = ARGV[base + 4] == '1'
  lapse(inflight, reserved, now)
  if binding then
    if climit >= 0 and redis.call('ZCARD', inflight) >= climit then
      return {i, 'concurrency', 0}
    end
    local used_t = tonumber(redis.call('HGET', day, 't') or '0')
      + tonumber(redis.call('HGET', reserved, 't') or '0')
    local used_c = tonumber(redis.call('HGET', day, 'c') or '0')
      + tonumber(redis.call('HGET', reserved, 'c') or '0')
    if tcap >= 0 and used_t + tonumber(tokens) > tcap then return {i, 'tokens', used_t} end
    if ccap >= 0 and used_c + tonumber(cost) > ccap then return {i, 'cost', used_c} end
  end
end
for i = 1, n do
  local inflight, reserved = KEYS[3 * i - 2], KEYS[3 * i - 1]
  redis.call('ZADD', inflight, lease_until, ticket)
  redis.call('HSET', reserved, ticket, tokens .. ':' .. cost)
  redis.call('HINCRBY', reserved, 't', tokens)
  redis.call('HINCRBY', reserved, 'c', cost)
  outlive(inflight, lease_until, now)
  outlive(reserved, lease_until, now)
end
return {0, generation}
"""
)

# ARGV: ticket id, its usage (tokens, cost), the day key's lifetime. The ticket's slot and
# reservation go, and its usage joins the day's — in one step. With no seeding since a loss,
# the usage is left out: the next seeding reads this request from the metadata.
SETTLE = (
    LEASES
    + """
local seeded = redis.call('EXISTS', KEYS[#KEYS]) == 1
for i = 1, (#KEYS - 1) / 3 do
  redis.call('ZREM', KEYS[3 * i - 2], ARGV[1])
  release(KEYS[3 * i - 1], ARGV[1])
  if seeded then
    redis.call('HINCRBY', KEYS[3 * i], 't', ARGV[2])
    redis.call('HINCRBY', KEYS[3 * i], 'c', ARGV[3])
    redis.call('EXPIRE', KEYS[3 * i], tonumber(ARGV[4]))
  end
end
return 0
"""
)

# KEYS: per ticket and scope, its inflight and reserved keys and its day's seed marker. ARGV:
# now, the new lease expiry, then per entry the ticket id, its reservation and the generation
# it last saw. Under the same generation, only leases still held are renewed (XX): a settled
# ticket is never brought back. Under another (or none), Redis lost its keys since — flushed
# or restarted — so the ticket is put back, slot and reservation, once. Returns each entry's
# current generation ('' when unseeded).
RENEW = (
    LEASES
    + """
local now, lease_until = tonumber(ARGV[1]), tonumber(ARGV[2])
local seen = {}
for i = 1, #KEYS / 3 do
  local inflight, reserved, marker = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local ticket, held, generation = ARGV[3 * i], ARGV[3 * i + 1], ARGV[3 * i + 2]
  local current = redis.call('GET', marker)
  if current == generation then
    redis.call('ZADD', inflight, 'XX', lease_until, ticket)
  else
    redis.call('ZADD', inflight, lease_until, ticket)
    if redis.call('HSETNX', reserved, ticket, held) == 1 then
      local t, c = string.match(held, '^(%d+):(%d+)$')
      redis.call('HINCRBY', reserved, 't', t)
      redis.call('HINCRBY', reserved, 'c', c)
    end
  end
  outlive(inflight, lease_until, now)
  if redis.call('EXISTS', reserved) == 1 then outlive(reserved, lease_until, now) end
  seen[i] = current or ''
end
return seen
"""
)

# KEYS: a scope's inflight, reserved and day keys and the day's seed marker; ARGV: now.
# Returns {-1} when unseeded, else settled tokens and cost, reserved tokens and cost, and the
# requests in flight — after dropping what lapsed.
USED = (
    LEASES
    + """
if redis.call('EXISTS', KEYS[4]) == 0 then return {-1} end
lapse(KEYS[1], KEYS[2], tonumber(ARGV[1]))
return {
  redis.call('HGET', KEYS[3], 't') or '0', redis.call('HGET', KEYS[3], 'c') or '0',
  redis.call('HGET', KEYS[2], 't') or '0', redis.call('HGET', KEYS[2], 'c') or '0',
  redis.call('ZCARD', KEYS[1])
}
"""
)


def seed_key(day: date) -> str:
    return f"routeplex:seeded:{day.isoformat()}"


def day_key(scope: str, day: date) -> str:
    return f"routeplex:day:{day.isoformat()}:{scope}"


def reserved_key(scope: str, day: date) -> str:
    return f"routeplex:reserved:{day.isoformat()}:{scope}"


def concurrency_key(scope: str) -> str:
    return f"routeplex:inflight:{scope}"
