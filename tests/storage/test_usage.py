"""Usage by UTC day, account and model; daily billing appended once per closed day."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from routeplex_gateway.storage import UNKNOWN_MODEL, Store, UsageRow
from tests.storage.builders import metadata_record

ACME, OTHER = "acc_000000000000acme", "acc_00000000000other"
DAY = date(2024, 3, 10)
NEXT_DAY = date(2024, 3, 11)
NEW_YORK = timezone(timedelta(hours=-5))


def at(day: date, hour: int, minute: int = 0, tz: timezone = UTC) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def usage(day: date, account: str, model: str, **counts: int) -> UsageRow:
    fields = {
        "requests": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_picousd": 0,
        "unknown_cost_requests": 0,
    }
    fields.update(counts)
    return UsageRow(day=day, account_id=account, model=model, **fields)


@pytest.fixture
async def traffic(store: Store) -> Store:
    """A few requests around the DAY/NEXT_DAY boundary, in several time zones."""
    sonnet = "claude-sonnet-4-20250514"
    await store.insert_metadata(
        [
            metadata_record(
                account_id=ACME,
                created_at=at(DAY, 0, 0),
                input_tokens=100,
                output_tokens=10,
                cache_read_tokens=40,
                reasoning_tokens=0,
                cost_picousd=1_000,
            ),
            metadata_record(
                account_id=ACME,
                created_at=at(DAY, 18, 59, NEW_YORK),  # 23:59 UTC: still DAY
                input_tokens=50,
                output_tokens=5,
                cache_write_tokens=7,
                reasoning_tokens=3,
                cost_picousd=500,
            ),
            # Served by no model: counted under the requested one, tokens and price unknown.
            metadata_record(
                account_id=ACME,
                created_at=at(DAY, 12),
                requested_model=sonnet,
                served_model=None,
                input_tokens=None,
                output_tokens=None,
                cache_read_tokens=None,
                cache_write_tokens=None,
                reasoning_tokens=None,
                cost_picousd=None,
                http_status=502,
                error_code="provider_error",
            ),
            # Unknown price, known tokens.
            metadata_record(
                account_id=ACME,
                created_at=at(DAY, 13),
                input_tokens=10,
                output_tokens=1,
                cost_picousd=None,
            ),
            # 19:30 in New York on DAY is 00:30 UTC on NEXT_DAY.
            metadata_record(
                account_id=ACME,
                created_at=at(DAY, 19, 30, NEW_YORK),
                served_model=sonnet,
                input_tokens=7,
                output_tokens=7,
                cost_picousd=70,
            ),
            metadata_record(
                account_id=ACME,
                created_at=at(NEXT_DAY, 1),
                requested_model=None,
                served_model=None,
                cost_picousd=None,
            ),
            metadata_record(account_id=OTHER, created_at=at(DAY, 9), cost_picousd=5),
            # Before any `since` used below.
            metadata_record(account_id=ACME, created_at=at(DAY - timedelta(days=1), 23, 59)),
        ]
    )
    return store


async def test_usage_by_utc_day_and_model(traffic: Store) -> None:
    rows = await traffic.usage(account_id=ACME, since=DAY)

    assert rows == [
        usage(DAY, ACME, "claude-sonnet-4-20250514", requests=1, unknown_cost_requests=1),
        usage(
            DAY,
            ACME,
            "gpt-4o-mini",
            requests=3,
            input_tokens=160,
            output_tokens=16,
            cache_read_tokens=40 + 0,
            cache_write_tokens=0 + 7 + 0,
            reasoning_tokens=0 + 3 + 0,
            cost_picousd=1_500,
            unknown_cost_requests=1,
        ),
        usage(
            NEXT_DAY,
            ACME,
            UNKNOWN_MODEL,
            requests=1,
            input_tokens=100,
            output_tokens=20,
            unknown_cost_requests=1,
        ),
        usage(
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
