"""What a request holds in Redis — its concurrency slot and its reservation against the daily
caps — lives exactly as long as its lease: it lapses when its holder stops renewing it (the
holder died), and comes back when Redis lost it while the holder still runs (a flush, a
restart). Each test starts its own redis-server, so it may flush it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from routeplex_gateway.errors import GatewayError
from routeplex_gateway.limits.plans import Limits, Policy
from routeplex_gateway.limits.quota import utc_today
from routeplex_gateway.limits.redis import RedisQuota
from tests.limits.test_quota import ids
from tests.support.services import PrivateRedis, private_redis
from tests.support.tcp_proxy import tcp_proxy

LEASE_S = 1.0  # the shortest the setting allows: a beat every third of a second


@pytest.fixture
def redis() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@asynccontextmanager
async def replica(redis: PrivateRedis) -> AsyncIterator[RedisQuota]:
    """One process's quota: its tickets, its heartbeat."""
    backend = RedisQuota(redis.url, lease_s=LEASE_S)
    await backend.seed(utc_today(), [])
    try:
        yield backend
    finally:
        await backend.close()


async def test_a_dead_holders_reservation_lapses_with_its_slot(redis: PrivateRedis) -> None:
    account, key = ids()
    scope = f"account:{account}"
    policy = Policy(Limits(concurrency=1, tokens_per_day=20_000))
    cost = 4 * 10**15 + 123  # 4,000 USD in pico-USD: exact, never rounded through a float
    async with replica(redis) as survivor:
        async with replica(redis) as doomed:
            await doomed.admit(account, key, policy, tokens=16_400, cost_picousd=cost)
            # Past the lease, the live holder keeps both: its heartbeat renews them.
            await asyncio.sleep(2 * LEASE_S)
            assert await survivor.used_today(scope, utc_today()) == (16_400, cost)
            assert await survivor.in_flight(scope) == 1
        # Closed without settling, like a process killed: nothing renews the lease now.
        died = time.monotonic()
        while await survivor.in_flight(scope):
            assert time.monotonic() - died < LEASE_S + 1
            await asyncio.sleep(0.05)
        # The slot and the reservation went together: the whole cap is usable again.
        assert await survivor.used_today(scope, utc_today()) == (0, 0)
        ticket = await survivor.admit(account, key, policy, tokens=19_000, cost_picousd=cost)
        await survivor.settle(ticket, 100, cost)
        assert await survivor.used_today(scope, utc_today()) == (100, cost)


async def test_after_a_flush_the_holder_puts_its_tickets_back(redis: PrivateRedis) -> None:
    account, key = ids()
    scope = f"account:{account}"
    policy = Policy(Limits(concurrency=1, tokens_per_day=20_000), Limits(concurrency=1))
    async with replica(redis) as holder, replica(redis) as other:
        held = await holder.admit(account, key, policy, tokens=16_400, cost_picousd=7)
        redis.flushall()
        # Another process cannot know of the ticket until the holder's next beat…
        await asyncio.sleep(LEASE_S / 3 + 0.2)
        # …after which both scopes' slots and the reservation are back, counted once.
        with pytest.raises(GatewayError) as refused:
            await other.admit(account, key, policy, tokens=10, cost_picousd=0)
        assert refused.value.details == {"scope": "account", "limit": "concurrency"}
        assert await other.in_flight(f"key:{key}") == 1
        assert await other.used_today(scope, utc_today()) == (16_400, 7)
        # Renewed, not put back twice, by every later beat; settled, it is gone for good.
        await asyncio.sleep(2 * LEASE_S / 3)
        assert await other.used_today(scope, utc_today()) == (16_400, 7)
        await holder.settle(held, 50, 2)
        assert await other.used_today(scope, utc_today()) == (50, 2)
        assert await other.in_flight(scope) == 0
        await asyncio.sleep(2 * LEASE_S / 3)
        assert await other.in_flight(scope) == 0


async def test_a_settlement_is_never_undone_by_a_beat_putting_tickets_back(
    redis: PrivateRedis,
) -> None:
    account, key = ids()
    scope = f"account:{account}"
    policy = Policy(Limits(concurrency=1, tokens_per_day=20_000))
    async with replica(redis) as holder:
        ticket = await holder.admit(account, key, policy, tokens=16_400, cost_picousd=0)
        redis.flushall()
        await holder.seed(utc_today(), [])  # seeded again at once (by another replica, say)
        # A beat that has taken the ticket to put back, and is slow to reach Redis…
        renew = holder._renew_script

        async def slow_renew(**kwargs: Any) -> Any:
            await asyncio.sleep(0.3)
            return await renew(**kwargs)

        holder._renew_script = slow_renew  # type: ignore[assignment]
        beat = asyncio.create_task(holder._beat())
        await asyncio.sleep(0)
        # …while the request settles: the settlement lands last, whatever the timing.
        await holder.settle(ticket, 30, 0)
        await beat
        assert await holder.in_flight(scope) == 0
        assert await holder.used_today(scope, utc_today()) == (30, 0)


async def test_a_settlement_that_cannot_reach_redis_lands_at_a_later_beat(
    redis: PrivateRedis,
) -> None:
    account, key = ids()
    scope = f"account:{account}"
    policy = Policy(Limits(tokens_per_day=20_000))
    with tcp_proxy(redis.port) as proxy:
        async with replica(redis) as observer:
            cut_off = RedisQuota(f"redis://127.0.0.1:{proxy.port}/0", lease_s=LEASE_S)
            try:
                ticket = await cut_off.admit(account, key, policy, tokens=16_400, cost_picousd=9)
                proxy.cut()
                await cut_off.settle(ticket, 40, 1)  # the answer was sent: this only logs
                proxy.restore()
                # Neither the reservation left standing, nor the usage lost with its lease:
                # the settlement is made again, and counted once.
                deadline = time.monotonic() + 5
                while await observer.used_today(scope, utc_today()) != (40, 1):
                    assert time.monotonic() < deadline, "the settlement never landed"
                    await asyncio.sleep(0.05)
                await asyncio.sleep(3 * LEASE_S)
                assert await observer.used_today(scope, utc_today()) == (40, 1)
                assert await observer.in_flight(scope) == 0
            finally:
                await cut_off.close()
