"""Usage per UTC day, account and model: computed live from request metadata, and appended
once per closed day to the append-only `billing_daily` table. Also usage per surface (the API
a request came in by), from request metadata alone: billing rows do not keep the surface.

A request's model is the one that served it, or the one requested when none did. A day is
"billed" once billing_daily has any row for it: `append_day` bills a day for all accounts in
one statement, so from then on its billing rows are the record of that day.

Two counts keep totals honest. A request is *refused* when the gateway answered it before
calling any provider (a 400, 403, 415 or 429 — attempts = 0): it used no model and cost
nothing. A request has an *unknown cost* when a model answered it, in whole or in part (a
served model, or a first byte relayed), and its price is not known. A provider that failed
before its first byte is neither: it answered nothing and billed nothing.
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
    exists,
    func,
    literal,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from routeplex_gateway.storage.column_types import UTCDateTime
from routeplex_gateway.storage.conflicts import insert_ignoring_conflicts
from routeplex_gateway.storage.records import UNKNOWN_MODEL, DayTotal, SurfaceUsage, UsageRow
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
    "refused_requests",
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


async def usage_by_day(
    connection: AsyncConnection, *, account_id: str | None, since: date
) -> list[UsageRow]:
    """Billing rows for billed days, live metadata aggregates for the others, from `since` on.

    One statement, so a day billed while it runs is counted once (from one source or the
    other), never twice or not at all. Metadata that arrived after its day was billed is not
    counted: billing is the record, and usage must agree with what is invoiced.
    """
    dialect_name = connection.dialect.name
    per_request = _per_request(
        dialect_name, account_id=account_id, start=day_start(since), end=None
    )
    # HAVING rather than WHERE: one probe of billing_daily's primary key per group, not per
    # request. `day` is a grouped column, so the correlated subquery may name it.
    unbilled = _aggregate(per_request).having(
        ~exists().where(billing_daily.c.day == per_request.c.day)
    )
    billed = select(*(billing_daily.c[name] for name in _BILLING_COLUMNS)).where(
        billing_daily.c.day >= since
    )
    if account_id is not None:
        billed = billed.where(billing_daily.c.account_id == account_id)
    # Ordered outside the UNION: PostgreSQL only orders a UNION by plain output columns, and
    # the byte-wise order needs COLLATE.
    combined = union_all(billed, unbilled).subquery("combined")
    statement = select(combined).order_by(
        combined.c.day,
        _bytewise(combined.c.model, dialect_name),
        _bytewise(combined.c.account_id, dialect_name),
    )
    result = await connection.execute(statement)
    return [_usage_from_row(row) for row in result.mappings()]


async def pending_days(connection: AsyncConnection, *, until: date) -> list[date]:
    """UTC days before `until` with request metadata and no billing rows, oldest first."""
    dialect_name = connection.dialect.name
    table = request_metadata
    per_request = (
        select(utc_day(table.c.created_at, dialect_name).label("day"))
        .where(table.c.created_at < day_start(until))
        .subquery("per_request")
    )
    # Grouped first, so billing_daily is probed once per day rather than once per request.
    days = select(per_request.c.day).group_by(per_request.c.day).subquery("days")
    statement = (
        select(days.c.day)
        .where(~exists().where(billing_daily.c.day == days.c.day))
        .order_by(days.c.day)
    )
    result = await connection.execute(statement)
    return list(result.scalars())


async def day_totals(connection: AsyncConnection, day: date) -> list[DayTotal]:
    """Requests, tokens and known cost per (account, key) on the UTC `day`."""
    table = request_metadata
    start = day_start(day)
    dialect_name = connection.dialect.name
    statement = (
        select(
            table.c.account_id,
            table.c.key_id,
            cast(func.count(), BigInteger).label("requests"),
            # Summed per column: `sum(input + output)` would drop a request whose output alone
            # is unknown, losing its known input tokens.
            cast(
                func.coalesce(func.sum(table.c.input_tokens), 0)
                + func.coalesce(func.sum(table.c.output_tokens), 0),
                BigInteger,
            ).label("tokens"),
            cast(func.coalesce(func.sum(table.c.cost_picousd), 0), BigInteger).label(
                "cost_picousd"
            ),
        )
        .where(table.c.created_at >= start, table.c.created_at < start + timedelta(days=1))
        .group_by(table.c.account_id, table.c.key_id)
        .order_by(
            _bytewise(table.c.account_id, dialect_name), _bytewise(table.c.key_id, dialect_name)
        )
    )
    result = await connection.execute(statement)
    return [
        DayTotal(
            account_id=row["account_id"],
            key_id=row["key_id"],
            requests=int(row["requests"]),
            tokens=int(row["tokens"]),
            cost_picousd=int(row["cost_picousd"]),
        )
        for row in result.mappings()
    ]


async def surface_usage(
    connection: AsyncConnection, *, account_id: str | None, since: date
) -> list[SurfaceUsage]:
    """Usage per surface (request_metadata's `endpoint`) from the UTC day `since` on.

    From request metadata only, so it covers the retained window: a request whose metadata
    was purged is in billing but in no surface. Counted as usage rows are: known tokens and
    costs summed, requests without a known price and refused requests counted apart.
    """
    table = request_metadata
    statement = select(
        table.c.endpoint,
        cast(func.count(), BigInteger).label("requests"),
        cast(func.coalesce(func.sum(table.c.input_tokens), 0), BigInteger).label("input_tokens"),
        cast(func.coalesce(func.sum(table.c.output_tokens), 0), BigInteger).label("output_tokens"),
        cast(func.sum(table.c.cost_picousd), BigInteger).label("cost_picousd"),
        cast(func.sum(_unknown_cost()), BigInteger).label("unknown_cost_requests"),
        cast(func.sum(_refused()), BigInteger).label("refused_requests"),
    ).where(table.c.created_at >= day_start(since))
    if account_id is not None:
        statement = statement.where(table.c.account_id == account_id)
    statement = statement.group_by(table.c.endpoint).order_by(
        _bytewise(table.c.endpoint, connection.dialect.name)
    )
    result = await connection.execute(statement)
    return [
        SurfaceUsage(
            endpoint=row["endpoint"],
            requests=int(row["requests"]),
            input_tokens=int(row["input_tokens"]),
            output_tokens=int(row["output_tokens"]),
            # NULL when no request had a known price; `unknown_cost_requests` says how many
            # were answered without one, as on usage rows.
            cost_picousd=int(row["cost_picousd"] or 0),
            unknown_cost_requests=int(row["unknown_cost_requests"]),
            refused_requests=int(row["refused_requests"]),
        )
        for row in result.mappings()
    ]


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
        _unknown_cost().label("unknown_cost"),
        _refused().label("refused"),
    ).where(table.c.created_at >= start)
    if end is not None:
        statement = statement.where(table.c.created_at < end)
    if account_id is not None:
        statement = statement.where(table.c.account_id == account_id)
    return statement.subquery("per_request")


def _unknown_cost() -> ColumnElement[int]:
    # 1 when a model answered (served, or a first byte relayed) and the price is not known.
    table = request_metadata
    answered = table.c.served_model.is_not(None) | table.c.ttfb_ms.is_not(None)
    return case((table.c.cost_picousd.is_(None) & answered, 1), else_=0)


def _refused() -> ColumnElement[int]:
    # 1 when the gateway answered before calling any provider.
    return case((request_metadata.c.attempts == 0, 1), else_=0)


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
        cast(func.sum(columns.unknown_cost), BigInteger).label("unknown_cost_requests"),
        cast(func.sum(columns.refused), BigInteger).label("refused_requests"),
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
        # NULL on billing rows appended before the count existed (migration 0004): unknown.
        refused_requests=None if row["refused_requests"] is None else int(row["refused_requests"]),
    )
