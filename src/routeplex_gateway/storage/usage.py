"""Usage per UTC day, account and model: computed live from request metadata, and appended
once per closed day to the append-only `billing_daily` table.

A request's model is the one that served it, or the one requested when none did.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    RowMapping,
    Select,
    Subquery,
    case,
    cast,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from routeplex_gateway.storage.column_types import UTCDateTime
from routeplex_gateway.storage.conflicts import insert_ignoring_conflicts
from routeplex_gateway.storage.records import UNKNOWN_MODEL, UsageRow
from routeplex_gateway.storage.schema import billing_daily, request_metadata

_TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
_BILLING_COLUMNS = (
    "day",
    "account_id",
    "model",
    "requests",
    *_TOKEN_COLUMNS,
    "cost_picousd",
    "unknown_cost_requests",
)


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of `day`."""
    return datetime.combine(day, time(), tzinfo=UTC)


async def usage_rows(
    connection: AsyncConnection, *, account_id: str | None, since: date
) -> list[UsageRow]:
    per_request = _per_request(
        connection.dialect.name, account_id=account_id, start=day_start(since), end=None
    )
    dialect_name = connection.dialect.name
    aggregate = _aggregate(per_request).order_by(
        per_request.c.day,
        _bytewise(per_request.c.model, dialect_name),
        _bytewise(per_request.c.account_id, dialect_name),
    )
    result = await connection.execute(aggregate)
    return [_usage_from_row(row) for row in result.mappings()]


async def append_day(connection: AsyncConnection, day: date, *, now: datetime) -> int:
    """Aggregate the closed UTC `day` into billing_daily; returns the rows inserted.

    Rows already there are left untouched (append-only), so a repeated or concurrent call
    inserts nothing twice.
    """
    if day >= now.astimezone(UTC).date():
        raise ValueError("only a closed UTC day can be appended to billing")
    start = day_start(day)
    per_request = _per_request(
        connection.dialect.name, account_id=None, start=start, end=start + timedelta(days=1)
    )
    aggregate = _aggregate(per_request).add_columns(literal(now, UTCDateTime).label("created_at"))
    statement = insert_ignoring_conflicts(
        billing_daily, connection.dialect.name, ["day", "account_id", "model"]
    ).from_select([*_BILLING_COLUMNS, "created_at"], aggregate)
    result = await connection.execute(statement)
    return result.rowcount


async def billing_rows(
    connection: AsyncConnection, *, account_id: str | None, since: date
) -> list[UsageRow]:
    statement = select(billing_daily).where(billing_daily.c.day >= since)
    if account_id is not None:
        statement = statement.where(billing_daily.c.account_id == account_id)
    dialect_name = connection.dialect.name
    statement = statement.order_by(
        billing_daily.c.day,
        _bytewise(billing_daily.c.model, dialect_name),
        _bytewise(billing_daily.c.account_id, dialect_name),
    )
    result = await connection.execute(statement)
    return [_usage_from_row(row) for row in result.mappings()]


def utc_day(column: ColumnElement[datetime], dialect_name: str) -> ColumnElement[date]:
    """The UTC calendar day of a `UTCDateTime` column, as a SQL expression."""
    if dialect_name == "postgresql":
        # timestamptz → timestamp in UTC → date; independent of the session's TimeZone.
        return cast(func.timezone("UTC", column), Date)
    # SQLite holds UTC text ("YYYY-MM-DD HH:MM:SS.ffffff"); date() takes its day part.
    return type_coerce(func.date(column), Date)


def _bytewise(column: ColumnElement[str], dialect_name: str) -> ColumnElement[str]:
    # The same order on both backends: SQLite compares bytes, while a PostgreSQL database with
    # a linguistic collation (glibc en_US…) may weigh case and punctuation differently.
    return column.collate("C") if dialect_name == "postgresql" else column


def _per_request(
    dialect_name: str, *, account_id: str | None, start: datetime, end: datetime | None
) -> Subquery:
    # Day and model are computed in a subquery and grouped on outside, so GROUP BY names plain
    # columns instead of repeating expressions (PostgreSQL would not match their parameters).
    table = request_metadata
    statement = select(
        utc_day(table.c.created_at, dialect_name).label("day"),
        table.c.account_id,
        func.coalesce(table.c.served_model, table.c.requested_model, UNKNOWN_MODEL).label("model"),
        *(table.c[name] for name in _TOKEN_COLUMNS),
        table.c.cost_picousd,
    ).where(table.c.created_at >= start)
    if end is not None:
        statement = statement.where(table.c.created_at < end)
    if account_id is not None:
        statement = statement.where(table.c.account_id == account_id)
    return statement.subquery("per_request")


def _aggregate(per_request: Subquery) -> Select[Any]:
    columns = per_request.c
    return select(
        columns.day,
        columns.account_id,
        columns.model,
        cast(func.count(), BigInteger).label("requests"),
        # Unknown (NULL) token counts add nothing; the sum of known counts is what was metered.
        *(
            cast(func.coalesce(func.sum(columns[name]), 0), BigInteger).label(name)
            for name in _TOKEN_COLUMNS
        ),
        # Stays NULL when no request of the group had a known price: unknown, not free.
        cast(func.sum(columns.cost_picousd), BigInteger).label("cost_picousd"),
        cast(func.sum(case((columns.cost_picousd.is_(None), 1), else_=0)), BigInteger).label(
            "unknown_cost_requests"
        ),
    ).group_by(columns.day, columns.account_id, columns.model)


def _usage_from_row(row: RowMapping) -> UsageRow:
    return UsageRow(
        day=row["day"],
        account_id=row["account_id"],
        model=row["model"],
        requests=int(row["requests"]),
        input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]),
        cache_read_tokens=int(row["cache_read_tokens"]),
        cache_write_tokens=int(row["cache_write_tokens"]),
        reasoning_tokens=int(row["reasoning_tokens"]),
        cost_picousd=int(row["cost_picousd"] or 0),
        unknown_cost_requests=int(row["unknown_cost_requests"]),
    )
