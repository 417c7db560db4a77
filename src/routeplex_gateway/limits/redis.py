"""Quota counters in Redis, shared by every worker and replica.

Admission is one Lua script per request (`redis_scripts.py`): it drops lapsed leases, checks
every scope's concurrency and daily caps, and only then reserves in all of them — atomically,
so concurrent requests on any number of replicas cannot overshoot a cap by racing. What a
request holds — its concurrency slots and its reservation, kept apart from settled usage —
is a lease, so a replica that dies mid-request (even `kill -9`) frees both after `lease_s`
instead of holding them for the rest of the day; the holder renews its leases while its
requests run (a heartbeat), so the lease can be a few seconds. When Redis loses them while
the holder runs (flushed, restarted), the holder puts them back: before it admits anything
else, and at its next beat at the latest.
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

from .quota import Quota, Refusal, Ticket, utc_today
from .redis_scripts import (
    ACQUIRE,
    DAY_TTL_S,
    RENEW,
    SETTLE,
    USED,
    concurrency_key,
    day_key,
    reserved_key,
    seed_key,
)

log = logging.getLogger(__name__)


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
        self._acquire_script = self._redis.register_script(ACQUIRE)
        self._settle_script = self._redis.register_script(SETTLE)
        self._renew_script = self._redis.register_script(RENEW)
        self._used_script = self._redis.register_script(USED)
        self._held: dict[str, Ticket] = {}  # tickets of this process holding a slot
        self._unsettled: dict[str, tuple[int, int]] = {}  # held ones whose settle failed
        self._heartbeat: asyncio.Task[None] | None = None
        self._seeding = asyncio.Lock()
        self._beating = asyncio.Lock()  # held while a beat may put tickets back (`_settle`)

    def _keys(self, ticket: Ticket) -> list[str]:
        keys: list[str] = []
        for scope in ticket.scopes:
            keys += [
                concurrency_key(scope.name),
                reserved_key(scope.name, ticket.day),
                day_key(scope.name, ticket.day),
            ]
        keys.append(seed_key(ticket.day))
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
        keys = self._keys(ticket)
        result = await self._acquire_script(keys=keys, args=args)
        if int(result[0]) == -1:
            await self._recover(ticket.day)
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
        if self._beating.locked():
            # A beat under way may have taken this ticket to put it back (after a flush); the
            # settlement must land after it, or the ticket would be brought back settled.
            async with self._beating:
                pass
        try:
            await self._settle_script(
                keys=self._keys(ticket), args=[ticket.id, tokens, cost, DAY_TTL_S]
            )
        except self.unavailable:
            # Held again, so the heartbeat keeps its reservation standing, and settled at the
            # first beat that reaches Redis: dropped, its usage would never be counted.
            self._held[ticket.id] = ticket
            self._unsettled[ticket.id] = (tokens, cost)
            raise

    async def _used(self, scope: str, day: date) -> list[int]:
        keys = [
            concurrency_key(scope),
            reserved_key(scope, day),
            day_key(scope, day),
            seed_key(day),
        ]
        now_ms = int(time.time() * 1000)
        result = await self._used_script(keys=keys, args=[now_ms])
        if int(result[0]) == -1:
            await self._recover(day)
            result = await self._used_script(keys=keys, args=[now_ms])
            if int(result[0]) == -1:
                raise RedisError("daily counters could not be seeded")
        return [int(value) for value in result]

    async def used_today(self, scope: str, day: date) -> tuple[int, int]:
        tokens, cost, reserved_tokens, reserved_cost, _ = await self._used(scope, day)
        return tokens + reserved_tokens, cost + reserved_cost

    async def in_flight(self, scope: str) -> int:
        return (await self._used(scope, utc_today()))[4]

    async def _renew_leases(self) -> None:
        """The heartbeat: every third of a lease, extend the leases of every request this
        process still holds — so the lease can be short, and a dead process's slots (no
        heartbeat) lapse within one lease — and put back any that Redis lost."""
        while True:
            await asyncio.sleep(self._lease_s / 3)
            try:
                await self._beat()
                for ticket_id, (tokens, cost) in list(self._unsettled.items()):
                    ticket = self._held[ticket_id]
                    del self._unsettled[ticket_id]
                    await self._settle(ticket, tokens, cost)
            except self.unavailable as exc:
                # Next beat tries again; a lease lapsing meanwhile only frees a slot early.
                log.warning("leases not renewed", extra={"error_type": type(exc).__name__})

    async def _beat(self) -> None:
        """Renew the leases of this process's tickets; put back, slot and reservation, those
        Redis lost since they were admitted (flushed, restarted)."""
        async with self._beating:
            held = [(t, scope) for t in list(self._held.values()) for scope in t.scopes]
            if not held:
                return
            now_ms = int(time.time() * 1000)
            keys: list[str] = []
            args: list[Any] = [now_ms, now_ms + int(self._lease_s * 1000)]
            for ticket, scope in held:
                keys += [
                    concurrency_key(scope.name),
                    reserved_key(scope.name, ticket.day),
                    seed_key(ticket.day),
                ]
                args += [ticket.id, f"{ticket.tokens}:{ticket.cost_picousd}", ticket.generation]
            seen = await self._renew_script(keys=keys, args=args)
            for (ticket, _), generation in zip(held, seen, strict=True):
                if generation:  # put back under this seeding: from now on only renewed
                    ticket.generation = _text(generation)

    async def _recover(self, day: date) -> None:
        """The day's counters are gone (or the day is new): put back this process's tickets,
        then seed the counters from the metadata — one database read, once per loss and
        process, off the path of every other request."""
        async with self._seeding:
            marker = await self._redis.get(seed_key(day))
            generation = None if marker is None else _text(marker)
            if any(t.generation != generation for t in self._held.values() if t.day == day):
                # Before anything is admitted in their place; another replica's tickets come
                # back with its next heartbeat.
                await self._beat()
            if generation is not None:
                return  # another request of this process, or another replica, seeded it
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
                key = day_key(name, day)
                pipe.hsetnx(key, "t", tokens)
                pipe.hsetnx(key, "c", cost)
                pipe.expire(key, DAY_TTL_S)
            pipe.set(seed_key(day), secrets.token_hex(8), nx=True, ex=DAY_TTL_S)
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
