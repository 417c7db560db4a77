"""Quota counters in Redis, shared by every worker and replica.

Admission is one Lua script per request: it expires stale concurrency leases, checks every
scope's concurrency and daily caps, and only then reserves in all of them — atomically, so
concurrent requests on any number of replicas cannot overshoot a cap by racing. Concurrency
slots are leases (sorted-set members scored by expiry), so a replica that dies mid-request
frees its slots after `lease_s` instead of holding them forever; the holder renews its
leases while its requests run (a heartbeat), so the lease can be a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Sequence
from datetime import date
from typing import Any

from limits.aio.storage import RedisStorage
from limits.errors import StorageError as LimitsStorageError
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from .quota import Quota, Refusal, Ticket

log = logging.getLogger(__name__)

_DAY_TTL_S = 2 * 24 * 3600

# KEYS: each scope's concurrency and day keys, then the day's seed marker. Returns {0, the
# seeding's generation} when admitted, {i, limit, used} when scope i refuses, and {-1} when
# the day's counters are not seeded (Redis was flushed or restarted, or the day is new): the
# caller seeds them from the recorded metadata and tries again, rather than count from zero.
_ACQUIRE = """
local now = tonumber(ARGV[1])
local lease_until = tonumber(ARGV[2])
local ticket = ARGV[3]
local tokens = tonumber(ARGV[4])
local cost = tonumber(ARGV[5])
local n = (#KEYS - 1) / 2
local generation = redis.call('GET', KEYS[#KEYS])
if not generation then return {-1} end
for i = 1, n do
  local conc, day = KEYS[2 * i - 1], KEYS[2 * i]
  local base = 5 + (i - 1) * 4
  local climit = tonumber(ARGV[base + 1])
  local tcap = tonumber(ARGV[base + 2])
  local ccap = tonumber(ARGV[base + 3])
  local binding = ARGV[base + 4] == '1'
  redis.call('ZREMRANGEBYSCORE', conc, '-inf', now)
  if binding then
    if climit >= 0 and redis.call('ZCARD', conc) >= climit then
      return {i, 'concurrency', 0}
    end
    local used_t = tonumber(redis.call('HGET', day, 't') or '0')
    local used_c = tonumber(redis.call('HGET', day, 'c') or '0')
    if tcap >= 0 and used_t + tokens > tcap then return {i, 'tokens', used_t} end
    if ccap >= 0 and used_c + cost > ccap then return {i, 'cost', used_c} end
  end
end
for i = 1, n do
  local conc, day = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('ZADD', conc, lease_until, ticket)
  redis.call('PEXPIREAT', conc, lease_until)
  redis.call('HINCRBY', day, 't', tokens)
  redis.call('HINCRBY', day, 'c', cost)
  redis.call('EXPIRE', day, tonumber(ARGV[#ARGV]))
end
return {0, generation}
"""

# ARGV: ticket id, the change from reservation to usage (tokens, cost), the usage itself, and
# the generation the ticket was admitted under. Counters seeded again since then never held
# the reservation, so they get the whole usage; with no seeding yet the next one reads this
# request from the metadata.
_SETTLE = """
local generation = redis.call('GET', KEYS[#KEYS])
local dt, dc = tonumber(ARGV[2]), tonumber(ARGV[3])
if generation ~= ARGV[6] then dt, dc = tonumber(ARGV[4]), tonumber(ARGV[5]) end
for i = 1, (#KEYS - 1) / 2 do
  redis.call('ZREM', KEYS[2 * i - 1], ARGV[1])
  if generation and redis.call('EXISTS', KEYS[2 * i]) == 1 then
    redis.call('HINCRBY', KEYS[2 * i], 't', dt)
    redis.call('HINCRBY', KEYS[2 * i], 'c', dc)
  end
end
return 0
"""


# KEYS: concurrency keys; ARGV: the new lease expiry, its length, then the ticket held in
# each key. Only leases still held are renewed (XX): a settled ticket is never brought back.
_RENEW = """
local lease_until, lease_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', lease_until, ARGV[i + 2])
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl >= 0 and ttl < lease_ms then redis.call('PEXPIREAT', KEYS[i], lease_until) end
end
return 0
"""


def _seed_key(day: date) -> str:
    return f"routeplex:seeded:{day.isoformat()}"


def _day_key(scope: str, day: date) -> str:
    return f"routeplex:day:{day.isoformat()}:{scope}"


def _concurrency_key(scope: str) -> str:
    return f"routeplex:inflight:{scope}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _cap(value: int | None) -> int:
    return -1 if value is None else value


# Connections per process, shared by the rate limiter and the scripts. A request holds one
# only for the length of a command, so a few dozen serve hundreds of requests in flight; past
# that, requests wait for one (up to the timeout) instead of failing.
POOL_CONNECTIONS = 64
POOL_WAIT_S = 5.0
# A connection idle this long is pinged before use, and a command that fails on a broken
# connection is sent once more on a fresh one: after Redis restarts, every pooled connection
# is stale, and without these the first request on each got a 503.
HEALTH_CHECK_S = 5.0
_RETRY = Retry(
    ExponentialBackoff(cap=0.25, base=0.01), retries=1, supported_errors=(RedisConnectionError,)
)


class RedisQuota(Quota):
    unavailable = (RedisError, LimitsStorageError, OSError)
    settles_in_place = False

    def __init__(self, url: str, *, lease_s: float = 30.0) -> None:
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_CONNECTIONS,
            timeout=POOL_WAIT_S,
            health_check_interval=HEALTH_CHECK_S,
            retry=_RETRY,
        )
        super().__init__(
            RedisStorage(
                f"async+{url}",
                implementation="redispy",
                key_prefix="routeplex:rpm",
                connection_pool=pool,  # type: ignore[arg-type]  # documented; typed too narrowly
            )
        )
        self._pool = pool
        self._redis: Redis = Redis(connection_pool=pool)
        self._lease_s = lease_s
        self._acquire_script = self._redis.register_script(_ACQUIRE)
        self._settle_script = self._redis.register_script(_SETTLE)
        self._renew_script = self._redis.register_script(_RENEW)
        self._held: dict[str, Ticket] = {}  # tickets of this process holding a slot
        self._heartbeat: asyncio.Task[None] | None = None
        self._seeding = asyncio.Lock()

    def _keys(self, ticket: Ticket) -> list[str]:
        keys: list[str] = []
        for scope in ticket.scopes:
            keys += [_concurrency_key(scope.name), _day_key(scope.name, ticket.day)]
        keys.append(_seed_key(ticket.day))
        return keys

    async def _acquire(self, ticket: Ticket) -> Refusal | None:
        now_ms = int(time.time() * 1000)
        args: list[Any] = [
            now_ms,
            now_ms + int(self._lease_s * 1000),
            ticket.id,
            ticket.tokens,
            ticket.cost_picousd,
        ]
        for scope in ticket.scopes:
            limits = scope.limits
            args += [
                _cap(limits.concurrency),
                _cap(limits.tokens_per_day),
                _cap(limits.cost_per_day_picousd),
                1 if limits.binding else 0,
            ]
        args.append(_DAY_TTL_S)
        keys = self._keys(ticket)
        result = await self._acquire_script(keys=keys, args=args)
        if int(result[0]) == -1:
            await self._reseed(ticket.day)
            result = await self._acquire_script(keys=keys, args=args)
        if int(result[0]) <= 0:
            if int(result[0]) == -1:  # flushed again in between: refuse rather than guess
                raise RedisError("daily counters could not be seeded")
            ticket.generation = _text(result[1])
            self._held[ticket.id] = ticket
            if self._heartbeat is None:
                self._heartbeat = asyncio.create_task(self._renew_leases())
            return None
        scope = ticket.scopes[int(result[0]) - 1]
        return Refusal(scope, _text(result[1]), int(result[2]))

    async def _settle(self, ticket: Ticket, tokens: int, cost: int) -> None:
        self._held.pop(ticket.id, None)
        await self._settle_script(
            keys=self._keys(ticket),
            args=[
                ticket.id,
                tokens - ticket.tokens,
                cost - ticket.cost_picousd,
                tokens,
                cost,
                ticket.generation,
            ],
        )

    async def used_today(self, scope: str, day: date) -> tuple[int, int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(_seed_key(day))
            pipe.hmget(_day_key(scope, day), ["t", "c"])
            seeded, values = await pipe.execute()
        if not seeded:
            await self._reseed(day)
            values = await self._redis.hmget(_day_key(scope, day), ["t", "c"])
        return int(values[0] or 0), int(values[1] or 0)

    async def in_flight(self, scope: str) -> int:
        key = _concurrency_key(scope)
        await self._redis.zremrangebyscore(key, "-inf", int(time.time() * 1000))
        count: int = await self._redis.zcard(key)
        return count

    async def _renew_leases(self) -> None:
        """The heartbeat: every third of a lease, extend the leases of every request this
        process still holds — so the lease can be short, and a dead process's slots (no
        heartbeat) lapse within one lease."""
        while True:
            await asyncio.sleep(self._lease_s / 3)
            if not self._held:
                continue
            keys: list[str] = []
            tickets: list[str] = []
            for ticket in list(self._held.values()):
                for scope in ticket.scopes:
                    keys.append(_concurrency_key(scope.name))
                    tickets.append(ticket.id)
            lease_ms = int(self._lease_s * 1000)
            try:
                await self._renew_script(
                    keys=keys, args=[int(time.time() * 1000) + lease_ms, lease_ms, *tickets]
                )
            except self.unavailable as exc:
                # Next beat tries again; a lease lapsing meanwhile only frees a slot early.
                log.warning("leases not renewed", extra={"error_type": type(exc).__name__})

    async def _reseed(self, day: date) -> None:
        """The day's counters are gone (or the day is new): seed them from the metadata —
        one database read, once per loss and process, off the path of every other request."""
        async with self._seeding:
            if await self._redis.exists(_seed_key(day)):
                return  # another request of this process, or another replica, did it
            log.warning("daily counters missing in Redis; seeding them from the metadata")
            await self.seed(day, await self.recorded(day))

    async def seed(self, day: date, totals: Sequence[Any]) -> None:
        """Seed the counters from recorded totals, and mark the day seeded. Counters that
        exist are kept: other replicas may be counting already."""
        sums: dict[str, list[int]] = {}
        for total in totals:
            for name in (f"account:{total.account_id}", f"key:{total.key_id}"):
                entry = sums.setdefault(name, [0, 0])
                entry[0] += total.tokens
                entry[1] += total.cost_picousd
        async with self._redis.pipeline(transaction=True) as pipe:
            for name, (tokens, cost) in sums.items():
                key = _day_key(name, day)
                pipe.hsetnx(key, "t", tokens)
                pipe.hsetnx(key, "c", cost)
                pipe.expire(key, _DAY_TTL_S)
            pipe.set(_seed_key(day), secrets.token_hex(8), nx=True, ex=_DAY_TTL_S)
            await pipe.execute()

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        await self._redis.aclose()
        await self._pool.disconnect()  # a pool handed to a client is not closed by it
