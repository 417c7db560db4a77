"""Usage by UTC day, account and model; daily billing appended once per closed day."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from routeplex_gateway.storage import UNKNOWN_MODEL, Store
from tests.storage.builders import ACME, DAY, NEXT_DAY, OTHER, usage_row


async def test_usage_by_utc_day_and_model(traffic: Store) -> None:
    rows = await traffic.usage(account_id=ACME, since=DAY)

    assert rows == [
        usage_row(DAY, ACME, "claude-sonnet-4-20250514", requests=1),
        usage_row(
            DAY,
            ACME,
            "gpt-4o-mini",
            requests=4,
            input_tokens=160,
            output_tokens=16,
            cache_read_tokens=40 + 0,
            cache_write_tokens=0 + 7 + 0,
            reasoning_tokens=0 + 3 + 0,
            cost_picousd=1_500,
            unknown_cost_requests=1,
            refused_requests=1,
        ),
        usage_row(
            NEXT_DAY,
            ACME,
            UNKNOWN_MODEL,
            requests=1,
            input_tokens=100,
            output_tokens=20,
            unknown_cost_requests=1,
        ),
        usage_row(
            NEXT_DAY,
            ACME,
            "claude-sonnet-4-20250514",
            requests=1,
            input_tokens=7,
            output_tokens=7,
            cost_picousd=70,
        ),
    ]


async def test_usage_of_all_accounts_and_since(traffic: Store) -> None:
    everyone = await traffic.usage(account_id=None, since=DAY)
    assert [(row.day, row.account_id, row.model) for row in everyone] == [
        (DAY, ACME, "claude-sonnet-4-20250514"),
        (DAY, ACME, "gpt-4o-mini"),
        (DAY, OTHER, "gpt-4o-mini"),
        (NEXT_DAY, ACME, UNKNOWN_MODEL),
        (NEXT_DAY, ACME, "claude-sonnet-4-20250514"),
    ]
    assert [row.day for row in await traffic.usage(account_id=ACME, since=NEXT_DAY)] == [
        NEXT_DAY,
        NEXT_DAY,
    ]
    earlier = await traffic.usage(account_id=ACME, since=DAY - timedelta(days=1))
    assert earlier[0].day == DAY - timedelta(days=1)


async def test_append_billing_day_is_idempotent(traffic: Store) -> None:
    assert await traffic.append_billing_day(DAY) == 3
    assert await traffic.append_billing_day(DAY) == 0

    expected = [row for row in await traffic.usage(account_id=None, since=DAY) if row.day == DAY]
    assert await traffic.billing(account_id=None, since=DAY) == expected
    assert await traffic.billing(account_id=OTHER, since=DAY) == [
        row for row in expected if row.account_id == OTHER
    ]
    # Only the closed day was billed; NEXT_DAY is billed by its own call.
    assert await traffic.append_billing_day(NEXT_DAY) == 2
    assert len(await traffic.billing(account_id=None, since=DAY)) == 5


async def test_concurrent_appends_insert_each_row_once(traffic: Store, database_url: str) -> None:
    others = [await Store.open(database_url) for _ in range(3)]
    try:
        inserted = await asyncio.gather(
            traffic.append_billing_day(DAY), *(other.append_billing_day(DAY) for other in others)
        )
    finally:
        for other in others:
            await other.close()

    assert sum(inserted) == 3
    assert len(await traffic.billing(account_id=None, since=DAY)) == 3


async def test_an_open_day_cannot_be_billed(store: Store) -> None:
    today = datetime.now(UTC).date()
    with pytest.raises(ValueError):
        await store.append_billing_day(today)
    with pytest.raises(ValueError):
        await store.append_billing_day(today + timedelta(days=1))
    assert await store.append_billing_day(today - timedelta(days=1)) == 0
