"""Request metadata: idempotent batches, unknowns kept as NULL, UTC instants, recent, purge."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import traceback
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from routeplex_gateway.metering.record import Endpoint, RoutingMode
from routeplex_gateway.storage import Store
from tests.storage.builders import metadata_record, unanswered_record

ACCOUNT = "acc_0000000000000001"


async def test_a_batch_is_inserted_once_however_often_it_is_sent(store: Store) -> None:
    batch = [
        metadata_record(created_at=datetime(2024, 3, 10, 12, 0, second, tzinfo=UTC))
        for second in range(5)
    ]

    assert await store.insert_metadata(batch) == 5
    assert await store.insert_metadata(batch) == 0
    assert await store.insert_metadata([*batch[3:], metadata_record()]) == 1
    assert await store.insert_metadata([]) == 0
    assert len(await store.recent_metadata(ACCOUNT, 100)) == 6


async def test_a_large_batch_spanning_several_statements(store: Store) -> None:
    batch = [metadata_record() for _ in range(2_500)]

    assert await store.insert_metadata(batch) == 2_500
    assert await store.insert_metadata(batch) == 0


async def test_records_round_trip_with_unknowns_as_null_not_zero(store: Store) -> None:
    unknown = unanswered_record(
        endpoint=Endpoint.NATIVE_CHAT,
        routing_mode=RoutingMode.AUTO,
        strategy="balanced",
        requested_model="routeplex-ai",
        provider=None,
        attempts=3,
        fallback_used=True,
        http_status=502,
        error_code="all_providers_failed",
        created_at=datetime(2024, 3, 10, 12, 0, 1, tzinfo=UTC),
    )
    zero = metadata_record(
        input_tokens=0,
        output_tokens=0,
        cost_picousd=0,
        created_at=datetime(2024, 3, 10, 12, 0, 0, tzinfo=UTC),
    )
    big = metadata_record(
        cost_picousd=9_000_000_000_000_000_000,  # 9 million USD in picodollars: needs BIGINT
        input_tokens=5_000_000_000,
        created_at=datetime(2024, 3, 10, 11, 0, tzinfo=UTC),
    )
    await store.insert_metadata([unknown, zero, big])

    assert await store.recent_metadata(ACCOUNT, 10) == [unknown, zero, big]
    read_unknown = (await store.recent_metadata(ACCOUNT, 1))[0]
    assert read_unknown.cost_picousd is None and read_unknown.input_tokens is None
    assert read_unknown.endpoint is Endpoint.NATIVE_CHAT
    assert read_unknown.routing_mode is RoutingMode.AUTO


async def test_datetimes_come_back_as_the_same_instant_in_utc(store: Store) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    local = datetime(2024, 3, 11, 2, 15, 30, 123456, tzinfo=india)
    await store.insert_metadata([metadata_record(created_at=local)])

    (read,) = await store.recent_metadata(ACCOUNT, 1)
    assert read.created_at == local
    assert read.created_at.tzinfo == UTC
    assert read.created_at == datetime(2024, 3, 10, 20, 45, 30, 123456, tzinfo=UTC)


async def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.insert_metadata([metadata_record(created_at=datetime(2024, 3, 10, 12))])
    assert await store.recent_metadata(ACCOUNT, 1) == []


async def test_unstorable_values_are_refused_without_quoting_them(store: Store) -> None:
    too_big = 2**70 + 12_345  # beyond BIGINT on both backends
    with pytest.raises(ValueError) as caught:
        await store.insert_metadata([metadata_record(cost_picousd=too_big)])

    told = "".join(traceback.format_exception(caught.value))
    assert str(too_big) not in told
    assert caught.value.__cause__ is None and caught.value.__context__ is None


async def test_recent_is_per_account_newest_first_and_limited(store: Store) -> None:
    records = [
        metadata_record(created_at=datetime(2024, 3, 10, hour, tzinfo=UTC)) for hour in range(4)
    ]
    other = metadata_record(account_id="acc_0000000000000002")
    await store.insert_metadata([*records, other])

    assert await store.recent_metadata(ACCOUNT, 3) == records[::-1][:3]
    assert await store.recent_metadata("acc_0000000000000002", 10) == [other]


async def test_purge_deletes_only_older_records(store: Store) -> None:
    cutoff = datetime(2024, 3, 10, tzinfo=UTC)
    old = [metadata_record(created_at=cutoff - timedelta(days=days)) for days in (1, 30, 400)]
    kept = [metadata_record(created_at=cutoff), metadata_record(created_at=cutoff.replace(hour=9))]
    await store.insert_metadata([*old, *kept])

    assert await store.purge_metadata(cutoff) == 3
    assert await store.purge_metadata(cutoff) == 0
    assert await store.recent_metadata(ACCOUNT, 10) == kept[::-1]


WRITE_BATCHES_OF_EVERY_SIZE = """
import asyncio, random, sys
from routeplex_gateway.storage import Store
from tests.storage.builders import metadata_record

def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) / 1024

async def main() -> None:
    store = await Store.open(sys.argv[1])
    await store.migrate()
    account = await store.create_account("acme")
    sizes = random.Random(7).choices(range(1, 501), k=150)
    await store.insert_metadata([metadata_record(account_id=account.id) for _ in range(500)])
    before = rss_mb()
    for size in sizes:
        await store.insert_metadata([metadata_record(account_id=account.id) for _ in range(size)])
    prepared = 0
    if sys.argv[1].startswith("postgresql"):
        # The metadata INSERTs this session holds prepared on the server (and asyncpg in
        # the gateway's memory).
        async with store._engine.connect() as connection:
            prepared = (await connection.exec_driver_sql(
                "SELECT count(*) FROM pg_prepared_statements "
                "WHERE statement LIKE 'INSERT INTO request_metadata%'")).scalar()
    print(rss_mb() - before, prepared)
    await store.close()

asyncio.run(main())
"""


def _grown_by_batches(url: str) -> tuple[float, int]:
    """RSS growth (MB) of a process writing 150 batches of random sizes, and how many
    statements its database session holds prepared afterwards."""
    ran = subprocess.run(
        [sys.executable, "-c", WRITE_BATCHES_OF_EVERY_SIZE, url],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    grown, prepared = ran.stdout.split()
    return float(grown), int(prepared)


def test_batches_of_every_size_do_not_grow_memory_on_sqlite(tmp_path: Path) -> None:
    # The recorder's batches are as large as what arrived since the last flush. Written as
    # one multi-row INSERT each, every size was another large prepared statement in SQLite's
    # cache: +60 MB over these 150 batches. Written row by row with one statement: ~0.
    grown, _ = _grown_by_batches(f"sqlite:///{tmp_path}/r.db")
    assert grown < 15, f"RSS grew {grown:.0f} MB"


def test_batches_of_every_size_do_not_grow_memory_on_postgresql(
    fresh_postgresql_url: str,
) -> None:
    # The same on PostgreSQL: one multi-row INSERT … RETURNING per batch size was another
    # prepared statement in asyncpg's cache and in the server session (+29 MB in the gateway
    # over these batches, 112 statements prepared). Batches are cut into nine page sizes.
    grown, prepared = _grown_by_batches(fresh_postgresql_url)
    assert prepared <= 9, f"{prepared} INSERT statements prepared"
    assert grown < 15, f"RSS grew {grown:.0f} MB"


async def test_rows_are_stored_exactly_as_sqlalchemy_binds_them(store: Store) -> None:
    """SQLite's batches bypass SQLAlchemy's parameter processing (`_SQLITE_INSERT`): every
    column must still be stored as the typed insert would store it, or reads, sums and the
    UTC-day grouping of text instants would drift."""
    from sqlalchemy import insert, text

    from routeplex_gateway.storage.request_metadata import _row
    from routeplex_gateway.storage.schema import request_metadata

    fast = metadata_record(
        created_at=datetime(2024, 3, 11, 2, 15, 30, tzinfo=timezone(timedelta(hours=5))),
        endpoint=Endpoint.ANTHROPIC_MESSAGES,
        routing_mode=RoutingMode.AUTO,
        fallback_used=True,
        usage_estimated=True,
        data_policy_required="zero-retention, region=eu",
        data_policy_met=False,
        data_policy_served="retention-days=0, training=no, region=eu",
    )
    typed = dataclasses.replace(fast, request_id="req_0000000000000000000000000000")
    await store.insert_metadata([fast])
    async with store._engine.begin() as connection:
        await connection.execute(insert(request_metadata).values(**_row(typed)))
        rows = (await connection.execute(text("SELECT * FROM request_metadata"))).all()
    stored = {row.request_id: tuple(row)[1:] for row in rows}
    assert stored[fast.request_id] == stored[typed.request_id]
    assert len(stored) == 2
