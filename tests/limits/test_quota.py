"""The quota on both backends: in-process memory and Redis. Same behaviour, same tests."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest

from routeplex_gateway.errors import ErrorCode, GatewayError
from routeplex_gateway.limits.memory import MemoryQuota
from routeplex_gateway.limits.plans import Limits, Policy
from routeplex_gateway.limits.quota import Quota, Ticket, utc_today
from routeplex_gateway.limits.redis import RedisQuota
from tests.support.servers import free_port
from tests.support.services import require_redis


@pytest.fixture(params=["memory", "redis"])
async def quota(request: pytest.FixtureRequest) -> AsyncIterator[Quota]:
    if request.param == "memory":
        yield MemoryQuota()
        return
    backend = RedisQuota(require_redis())
    try:
        yield backend
    finally:
        await backend.close()


def ids() -> tuple[str, str]:
    # Fresh ids per test: the Redis counters are shared across the whole server.
    return f"acc_{secrets.token_hex(6)}", f"key_{secrets.token_hex(6)}"


async def test_rpm_refusal_has_retry_after_and_headers(quota: Quota) -> None:
    account, key = ids()
    policy = Policy(Limits(rpm=3))
    for _ in range(3):
        await quota.settle(await quota.admit(account, key, policy, tokens=1, cost_picousd=0), 1, 0)
    with pytest.raises(GatewayError) as refused:
        await quota.admit(account, key, policy, tokens=1, cost_picousd=0)
    error = refused.value
    assert error.code is ErrorCode.RATE_LIMITED and error.status == 429
    assert error.details["limit"] == "rpm"
    assert error.retry_after_s is not None and 0 < error.retry_after_s <= 60
    assert error.headers["X-RateLimit-Limit"] == "3"
    assert error.headers["X-RateLimit-Remaining"] == "0"
    assert int(error.headers["X-RateLimit-Reset"]) > 0


async def test_concurrency_counts_until_settled(quota: Quota) -> None:
    account, key = ids()
    policy = Policy(Limits(concurrency=2))
    first = await quota.admit(account, key, policy, tokens=1, cost_picousd=0)
    await quota.admit(account, key, policy, tokens=1, cost_picousd=0)
    assert await quota.in_flight(f"account:{account}") == 2
    with pytest.raises(GatewayError) as refused:
        await quota.admit(account, key, policy, tokens=1, cost_picousd=0)
    assert refused.value.details["limit"] == "concurrency"
    await quota.settle(first, 1, 0)
    await quota.admit(account, key, policy, tokens=1, cost_picousd=0)


async def test_daily_tokens_reserve_then_settle(quota: Quota) -> None:
    account, key = ids()
    policy = Policy(Limits(tokens_per_day=1000))
    ticket = await quota.admit(account, key, policy, tokens=900, cost_picousd=0)
    with pytest.raises(GatewayError) as refused:
        await quota.admit(account, key, policy, tokens=200, cost_picousd=0)
    assert refused.value.code is ErrorCode.DAILY_LIMIT_EXCEEDED
    assert refused.value.details["used"] == 900
    assert refused.value.retry_after_s is not None and refused.value.retry_after_s <= 86400
    await quota.settle(ticket, 100, 0)  # the real usage was far below the worst case
    assert await quota.used_today(f"account:{account}", utc_today()) == (100, 0)
    await quota.admit(account, key, policy, tokens=800, cost_picousd=0)


async def test_daily_cost_cap(quota: Quota) -> None:
    account, key = ids()
    policy = Policy(Limits(cost_per_day_picousd=1_000))
    await quota.admit(account, key, policy, tokens=1, cost_picousd=600)
    with pytest.raises(GatewayError) as refused:
        await quota.admit(account, key, policy, tokens=1, cost_picousd=600)
    assert refused.value.code is ErrorCode.DAILY_COST_LIMIT_EXCEEDED


async def test_key_caps_are_their_own_counters(quota: Quota) -> None:
    account, key = ids()
    policy = Policy(Limits(tokens_per_day=10_000), key=Limits(tokens_per_day=100))
    await quota.admit(account, key, policy, tokens=80, cost_picousd=0)
    with pytest.raises(GatewayError) as refused:
        await quota.admit(account, key, policy, tokens=80, cost_picousd=0)
    assert refused.value.code is ErrorCode.QUOTA_EXCEEDED
    assert refused.value.details["scope"] == "key"
    # Another key of the same account is not held to this key's cap.
    await quota.admit(
        account, "key_other" + key, Policy(Limits(tokens_per_day=10_000)), tokens=80, cost_picousd=0
    )


async def test_unknown_usage_keeps_the_reservation(quota: Quota) -> None:
    account, key = ids()
    policy = Policy(Limits(tokens_per_day=1000))
    ticket = await quota.admit(account, key, policy, tokens=700, cost_picousd=5)
    await quota.settle(ticket, None, None)
    assert await quota.used_today(f"account:{account}", utc_today()) == (700, 5)
    await quota.settle(ticket, 1, 1)  # settling twice changes nothing
    assert await quota.used_today(f"account:{account}", utc_today()) == (700, 5)


async def test_unlimited_counts_but_never_refuses(quota: Quota) -> None:
    account, key = ids()
    policy = Policy(Limits(tokens_per_day=10, rpm=1, concurrency=1, binding=False))
    for _ in range(5):
        await quota.admit(account, key, policy, tokens=100, cost_picousd=1)
    assert await quota.used_today(f"account:{account}", utc_today()) == (500, 5)


async def test_concurrent_admissions_never_overshoot(quota: Quota) -> None:
    account, key = ids()
    policy = Policy(Limits(tokens_per_day=1000))

    async def attempt() -> bool:
        try:
            await quota.admit(account, key, policy, tokens=100, cost_picousd=0)
            return True
        except GatewayError:
            return False

    admitted = await asyncio.gather(*(attempt() for _ in range(60)))
    assert sum(admitted) == 10
    assert await quota.used_today(f"account:{account}", utc_today()) == (1000, 0)


async def test_seed_starts_from_recorded_usage(quota: Quota) -> None:
    account, key = ids()
    total = SimpleNamespace(account_id=account, key_id=key, requests=3, tokens=950, cost_picousd=7)
    await quota.seed(utc_today(), [total])
    assert await quota.used_today(f"account:{account}", utc_today()) == (950, 7)
    with pytest.raises(GatewayError):
        await quota.admit(
            account, key, Policy(Limits(tokens_per_day=1000)), tokens=100, cost_picousd=0
        )


async def test_hundreds_in_flight_share_a_bounded_redis_pool() -> None:
    # More requests in flight than the pool has connections: they wait their turn for one
    # (redis-py's default pool raised MaxConnectionsError past 100, mid-stream).
    backend = RedisQuota(require_redis())
    try:
        account, key = ids()
        policy = Policy(Limits(rpm=10_000, concurrency=1_000, tokens_per_day=10**9))

        async def one() -> None:
            ticket = await backend.admit(account, key, policy, tokens=10, cost_picousd=1)
            await backend.settle(ticket, 5, 1)

        await asyncio.gather(*(one() for _ in range(400)))
        assert await backend.used_today(f"account:{account}", utc_today()) == (2_000, 400)
        assert await backend.in_flight(f"account:{account}") == 0
    finally:
        await backend.close()


async def test_an_unreachable_redis_refuses_with_503_and_never_breaks_a_settle() -> None:
    backend = RedisQuota(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        account, key = ids()
        policy = Policy(Limits(rpm=10, tokens_per_day=1_000))
        with pytest.raises(GatewayError) as refused:
            await backend.admit(account, key, policy, tokens=1, cost_picousd=0)
        error = refused.value
        assert error.code is ErrorCode.PROVIDER_UNAVAILABLE and error.status == 503
        assert error.retryable and error.retry_after_s is not None
        assert "redis://" not in error.message
        with pytest.raises(GatewayError) as budget:
            await backend.remaining(account, policy.account)
        assert budget.value.status == 503
        # A request admitted before the outage still finishes: settling only logs.
        ticket = Ticket(day=utc_today(), scopes=(), tokens=1, cost_picousd=0)
        await backend.settle(ticket, 1, 0)
        assert ticket.settled
    finally:
        await backend.close()


async def test_refusals_for_concurrency_or_daily_caps_do_not_use_up_the_minute(
    quota: Quota,
) -> None:
    account, key = ids()
    policy = Policy(Limits(rpm=5, concurrency=1, tokens_per_day=1000))
    holding = await quota.admit(account, key, policy, tokens=1, cost_picousd=0)
    for _ in range(31):  # a burst against the one slot
        with pytest.raises(GatewayError) as refused:
            await quota.admit(account, key, policy, tokens=1, cost_picousd=0)
        assert refused.value.details["limit"] == "concurrency"
    await quota.settle(holding, 1, 0)
    with pytest.raises(GatewayError) as too_big:
        await quota.admit(account, key, policy, tokens=5000, cost_picousd=0)
    assert too_big.value.code is ErrorCode.DAILY_LIMIT_EXCEEDED
    # The minute's other four requests are still there.
    for _ in range(4):
        await quota.settle(await quota.admit(account, key, policy, tokens=1, cost_picousd=0), 1, 0)
    with pytest.raises(GatewayError) as limited:
        await quota.admit(account, key, policy, tokens=1, cost_picousd=0)
    assert limited.value.details["limit"] == "rpm"
    # An rpm refusal holds nothing: the slot is free and nothing is reserved.
    assert await quota.in_flight(f"account:{account}") == 0
    assert (await quota.used_today(f"account:{account}", utc_today()))[0] == 5


async def test_counters_lost_in_redis_are_seeded_again_from_the_metadata() -> None:
    from tests.support.services import private_redis

    with private_redis() as redis:
        backend = RedisQuota(redis.url)
        try:
            account, key = ids()
            recorded = [SimpleNamespace(account_id=account, key_id=key, tokens=500, cost_picousd=9)]

            async def metadata(day: object) -> list[SimpleNamespace]:
                return recorded

            backend.recorded = metadata
            await backend.seed(utc_today(), recorded)
            policy = Policy(Limits(tokens_per_day=2000))
            in_flight = await backend.admit(account, key, policy, tokens=1000, cost_picousd=0)
            redis.flushall()
            # Missing counters are not zero: admission seeds them from the metadata first, and
            # puts back the reservation of the request still in flight.
            with pytest.raises(GatewayError) as refused:
                await backend.admit(account, key, policy, tokens=600, cost_picousd=0)
            assert refused.value.details["used"] == 1500
            # The request admitted before the flush is not in the seeded counters: its
            # reservation gives way to its whole usage.
            await backend.settle(in_flight, 100, 1)
            assert await backend.used_today(f"account:{account}", utc_today()) == (600, 10)
            redis.flushall()
            assert await backend.used_today(f"account:{account}", utc_today()) == (500, 9)
        finally:
            await backend.close()
