"""Request metadata rows (one per request): writing batches, reading recent ones (whole, or
what they say about data policy), purging."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from operator import attrgetter

from sqlalchemy import RowMapping, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from routeplex_gateway.metering.record import (
    METADATA_FIELDS,
    Endpoint,
    RequestMetadata,
    RoutingMode,
)
from routeplex_gateway.storage.conflicts import insert_ignoring_conflicts
from routeplex_gateway.storage.records import PolicyRecord
from routeplex_gateway.storage.schema import request_metadata


async def insert_records(connection: AsyncConnection, records: Sequence[RequestMetadata]) -> int:
    """Insert a batch, skipping request ids already stored; returns how many were new.

    A retried batch (the recorder could not tell whether its commit landed) therefore never
    bills a request twice.

    On SQLite, one single-row statement executed for every record (the driver's
    executemany, with positional rows: see `_SQLITE_INSERT`), not a multi-row INSERT:
    batches vary in size, and every distinct size was another large statement for SQLite to
    parse and keep in its statement cache, in the gateway's own memory (measured: RSS grew
    from 71 to 167 MB over 600 batches of random sizes; 74 MB, flat, this way).

    On PostgreSQL, multi-row INSERT … RETURNING (asyncpg's executemany reports no row count,
    and RETURNING names the rows that were new), but only in the sizes of `_PAGES`: a batch
    is cut into pages of those sizes, largest first. Each distinct size is a statement
    prepared in asyncpg's cache and in the server session, so sizes as they came were
    another statement per batch size (112 prepared after 150 random batches, +29 MB);
    nine sizes bound them, and a batch of 500 is still only six round trips.
    """
    if not records:
        return 0
    if connection.dialect.name == "sqlite":
        rows_as_stored = [_sqlite_row(record) for record in records]
        result = await connection.exec_driver_sql(_SQLITE_INSERT, rows_as_stored)
        return result.rowcount
    rows = [_row(record) for record in records]
    statement = insert_ignoring_conflicts(request_metadata, connection.dialect.name, ["request_id"])
    if connection.dialect.name == "postgresql":
        returning = statement.returning(request_metadata.c.request_id)
        added = 0
        for page in _paged(rows):
            added += len((await connection.execute(returning, page)).all())
        return added
    result = await connection.execute(statement, rows)
    return result.rowcount


# SQLite's rows go to the driver as they are stored, positionally: SQLAlchemy's per-row
# parameter processing and the driver's lookup of each named parameter cost ~1,400
# instructions a column (callgrind, `bench.instructions`): 4% of a request's CPU for 29
# columns. The values are those SQLAlchemy would bind (`_sqlite_row`); a test holds the two
# ways to the same stored text.
_SQLITE_INSERT = (
    f"INSERT INTO {request_metadata.name} ({', '.join(METADATA_FIELDS)}) "
    f"VALUES ({', '.join('?' * len(METADATA_FIELDS))}) ON CONFLICT (request_id) DO NOTHING"
)
_VALUES = attrgetter(*METADATA_FIELDS)
_CREATED_AT = METADATA_FIELDS.index("created_at")
_ENDPOINT = METADATA_FIELDS.index("endpoint")
_ROUTING_MODE = METADATA_FIELDS.index("routing_mode")


def _sqlite_row(record: RequestMetadata) -> tuple[object, ...]:
    row = list(_VALUES(record))
    row[_CREATED_AT] = sqlite_instant(record.created_at)
    row[_ENDPOINT] = str(record.endpoint)
    row[_ROUTING_MODE] = str(record.routing_mode)
    return tuple(row)  # SQLAlchemy passes a list of tuples to the driver as it is


def sqlite_instant(value: datetime) -> str:
    """An aware instant as `UTCDateTime` stores it on SQLite: UTC, SQLAlchemy's text format."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("storage accepts timezone-aware datetimes only")
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}"


# Powers of two: any batch is a sum of them, one page of each size at most (below the largest).
_PAGES = tuple(2**n for n in range(8, -1, -1))  # 256, 128, …, 1


def _paged(rows: list[dict[str, object]]) -> Iterator[list[dict[str, object]]]:
    start = 0
    while start < len(rows):
        left = len(rows) - start
        size = next(page for page in _PAGES if page <= left)
        yield rows[start : start + size]
        start += size


async def recent_records(
    connection: AsyncConnection, account_id: str, limit: int
) -> list[RequestMetadata]:
    result = await connection.execute(
        select(request_metadata)
        .where(request_metadata.c.account_id == account_id)
        .order_by(request_metadata.c.created_at.desc(), request_metadata.c.request_id.desc())
        .limit(limit)
    )
    return [record_from_row(row) for row in result.mappings()]


async def recent_policies(
    connection: AsyncConnection, account_id: str, limit: int
) -> list[PolicyRecord]:
    """The data-policy columns of the account's newest rows, newest first."""
    c = request_metadata.c
    result = await connection.execute(
        select(
            c.created_at,
            c.request_id,
            c.served_model,
            c.provider,
            c.data_policy_required,
            c.data_policy_met,
            c.data_policy_served,
        )
        .where(c.account_id == account_id)
        .order_by(c.created_at.desc(), c.request_id.desc())
        .limit(limit)
    )
    return [PolicyRecord(**row) for row in result.mappings()]


async def purge_records(connection: AsyncConnection, before: datetime) -> int:
    result = await connection.execute(
        delete(request_metadata).where(request_metadata.c.created_at < before)
    )
    return result.rowcount


def _row(record: RequestMetadata) -> dict[str, object]:
    row = record.as_row()
    # Enumerations are stored as their text values; str() also accepts a plain string.
    row["endpoint"] = str(record.endpoint)
    row["routing_mode"] = str(record.routing_mode)
    return row


def record_from_row(row: RowMapping) -> RequestMetadata:
    values = {name: row[name] for name in METADATA_FIELDS}
    values["endpoint"] = Endpoint(values["endpoint"])
    values["routing_mode"] = RoutingMode(values["routing_mode"])
    values["fallback_used"] = bool(values["fallback_used"])
    values["usage_estimated"] = bool(values["usage_estimated"])
    return RequestMetadata(**values)
