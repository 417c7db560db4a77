"""Usage across the metadata retention: pending billing days, per-key day totals, and usage
combined from billing (billed days) and request metadata (the rest)."""

from __future__ import annotations

from datetime import timedelta

from routeplex_gateway.storage import DayTotal, Store
from tests.storage.builders import ACME, DAY, NEW_YORK, NEXT_DAY, OTHER, at, metadata_record

DAY_BEFORE = DAY - timedelta(days=1)
# Upper and lower case: byte-wise order puts "Z" before "a", a linguistic collation would not.
KEY_A, KEY_B = "key_00000000000000Zz", "key_00000000000000aa"


async def test_pending_billing_days(traffic: Store) -> None:
    # `traffic` has requests on DAY_BEFORE, DAY and NEXT_DAY (UTC), one of them on DAY in
    # New York but NEXT_DAY in UTC; PostgreSQL's session time zone is UTC+14.
    assert await traffic.pending_billing_days(until=NEXT_DAY + timedelta(days=1)) == [
        DAY_BEFORE,
        DAY,
        NEXT_DAY,
    ]
    assert await traffic.pending_billing_days(until=NEXT_DAY) == [DAY_BEFORE, DAY]
    assert await traffic.pending_billing_days(until=DAY_BEFORE) == []

    await traffic.append_billing_day(DAY)
    assert await traffic.pending_billing_days(until=NEXT_DAY + timedelta(days=1)) == [
        DAY_BEFORE,
        NEXT_DAY,
    ]
    # A day whose metadata was purged has nothing left to bill.
    await traffic.purge_metadata(at(DAY, 0))
    assert await traffic.pending_billing_days(until=NEXT_DAY + timedelta(days=1)) == [NEXT_DAY]


async def test_no_pending_days_without_metadata(store: Store) -> None:
    assert await store.pending_billing_days(until=NEXT_DAY) == []


async def test_day_totals_per_account_and_key(store: Store) -> None:
    await store.insert_metadata(
        [
            metadata_record(account_id=ACME, key_id=KEY_A, created_at=at(DAY, 0, 0)),
            # 23:59 UTC: still DAY. Output unknown: its known input tokens still count.
            metadata_record(
                account_id=ACME,
                key_id=KEY_A,
                created_at=at(DAY, 18, 59, NEW_YORK),
                input_tokens=5,
                output_tokens=None,
                cost_picousd=None,
            ),
            metadata_record(
                account_id=ACME,
                key_id=KEY_B,
                created_at=at(DAY, 12),
                input_tokens=None,
                output_tokens=None,
                cost_picousd=None,
            ),
            metadata_record(account_id=OTHER, key_id=KEY_B, created_at=at(DAY, 9), cost_picousd=5),
            # Outside DAY in UTC.
            metadata_record(account_id=ACME, key_id=KEY_A, created_at=at(DAY, 19, 30, NEW_YORK)),
            metadata_record(account_id=ACME, key_id=KEY_A, created_at=at(DAY_BEFORE, 23, 59)),
        ]
    )

    assert await store.day_totals(DAY) == [
        DayTotal(account_id=ACME, key_id=KEY_A, requests=2, tokens=125, cost_picousd=27_000_000),
        DayTotal(account_id=ACME, key_id=KEY_B, requests=1, tokens=0, cost_picousd=0),
        DayTotal(account_id=OTHER, key_id=KEY_B, requests=1, tokens=120, cost_picousd=5),
    ]
    assert [total.requests for total in await store.day_totals(NEXT_DAY)] == [1]
    assert await store.day_totals(DAY + timedelta(days=30)) == []


async def test_usage_by_day_is_live_usage_while_nothing_is_billed(traffic: Store) -> None:
    for account_id in (ACME, OTHER, None):
        for since in (DAY_BEFORE, DAY, NEXT_DAY):
            assert await traffic.usage_by_day(
                account_id=account_id, since=since
            ) == await traffic.usage(account_id=account_id, since=since)


async def test_usage_by_day_counts_billed_days_once(traffic: Store) -> None:
    live = await traffic.usage(account_id=None, since=DAY_BEFORE)
    await traffic.append_billing_day(DAY_BEFORE)
    await traffic.append_billing_day(DAY)

    # Billed days come from billing, the open one from metadata: the same rows, once each.
    assert await traffic.usage_by_day(account_id=None, since=DAY_BEFORE) == live
    assert await traffic.usage_by_day(account_id=ACME, since=DAY) == [
        row for row in live if row.account_id == ACME and row.day >= DAY
    ]
    assert await traffic.usage_by_day(account_id=OTHER, since=DAY) == [
        row for row in live if row.account_id == OTHER
    ]


async def test_usage_by_day_outlives_the_metadata_retention(traffic: Store) -> None:
    live = await traffic.usage(account_id=None, since=DAY_BEFORE)
    await traffic.append_billing_day(DAY_BEFORE)
    await traffic.append_billing_day(DAY)

    await traffic.purge_metadata(at(NEXT_DAY, 0))

    assert [row.day for row in await traffic.usage(account_id=None, since=DAY_BEFORE)] == [
        NEXT_DAY,
        NEXT_DAY,
    ]
    assert await traffic.usage_by_day(account_id=None, since=DAY_BEFORE) == live


async def test_billing_is_the_record_of_a_billed_day(traffic: Store) -> None:
    await traffic.append_billing_day(DAY)
    billed = await traffic.usage_by_day(account_id=None, since=DAY)

    # A record that arrives after its day was billed is not in the bill, so not in usage.
    await traffic.insert_metadata([metadata_record(account_id=OTHER, created_at=at(DAY, 10))])

    assert await traffic.usage_by_day(account_id=None, since=DAY) == billed
    assert await traffic.usage(account_id=None, since=DAY) != billed
