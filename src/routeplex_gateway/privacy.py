"""The privacy audit behind `routeplex privacy-audit`: what RoutePlex stores, and a scan of
the configured stores for anything that looks like request content.

The description is derived from `storage.schema.metadata` (tables and columns) and the
retention rules below, so it cannot drift from the schema; the README's "What RoutePlex
stores" section is this module's output, and a test keeps the two equal.

The scan reads every row of every table and every RoutePlex key in Redis. Each stored
value has a known shape — an id, a hash, a member of a closed set, a single-word token such
as a model id, a short label an operator chose, structured limits, or a number or instant —
and a value outside its shape is a finding. Findings name the table, column and row (or the
Redis key), never the value: the point of the audit is that content is not repeated.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import JSON, Table, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from .api.validation import STRATEGIES
from .config import Settings
from .errors import ErrorCode
from .metering.record import Endpoint, RoutingMode
from .storage.connection import async_url, create_engine, sqlite_directory
from .storage.schema import metadata

# How long each table's rows are kept. Every schema table must be here: `describe` refuses
# a table with no stated retention, so a new table cannot ship undocumented.
RETENTION: dict[str, str] = {
    "accounts": "until deleted",
    "api_keys": "until deleted",
    "admin_keys": "until deleted",
    "request_metadata": "{days} days (`ROUTEPLEX_METADATA_RETENTION_DAYS`)",
    "billing_daily": "7 years, append-only",
    "revoked_sessions": "until the session would have expired (`ROUTEPLEX_SESSION_TTL_S`)",
}

# RoutePlex's keys in Redis (limits/redis.py, and the `limits` sliding-window counter). Counters
# only: the scan below checks that every value really is a number or an id.
REDIS_KEYS: tuple[tuple[str, str, str], ...] = (
    ("routeplex:day:<day>:<scope>", "tokens and cost of that UTC day's settled requests", "2 days"),
    (
        "routeplex:inflight:<scope>",
        "ids of requests in flight, scored by lease expiry",
        "30 s after the last renewal",
    ),
    (
        "routeplex:reserved:<day>:<scope>",
        "each in-flight request's reservation (id, tokens:cost) and their sums",
        "30 s after the last renewal",
    ),
    ("routeplex:seeded:<day>", "a random id: that UTC day's counters were seeded", "2 days"),
    ("routeplex:rpm:{LIMITER/<scope>/…}", "request counts, this minute and the last", "2 min"),
)
REDIS_PATTERN = "routeplex:*"

# The Alembic bookkeeping table (the schema revision); not data about anyone.
_INTERNAL_TABLES = frozenset({"alembic_version"})


class Kind(StrEnum):
    """The shape a stored value must have."""

    ID = "id"  # acc_…, key_…, adm_…, req_… with hex digits
    HASH = "hash"  # sha256 hex
    ENUM = "enum"  # a member of a closed set defined in code
    TOKEN = "token"  # one word: a model id, provider, plan, key prefix
    LABEL = "label"  # a short name an operator or account holder chose
    JSON = "json"  # limits and allowed models: numbers, booleans and tokens
    POLICY = "policy"  # a data-policy label: `zero-retention, region=eu`, `retention-days=30`
    VALUE = "value"  # numbers, booleans, dates and instants


_ENUMS: dict[tuple[str, str], frozenset[str]] = {
    ("request_metadata", "endpoint"): frozenset(e.value for e in Endpoint),
    ("request_metadata", "routing_mode"): frozenset(m.value for m in RoutingMode),
    ("request_metadata", "strategy"): STRATEGIES,
    ("request_metadata", "error_code"): frozenset(c.value for c in ErrorCode),
}

# Every text column, by name; anything not listed and not JSON is a number, date or instant.
TEXT_KINDS: dict[str, Kind] = {
    "id": Kind.ID,
    "account_id": Kind.ID,
    "key_id": Kind.ID,
    "request_id": Kind.ID,
    "key_hash": Kind.HASH,
    "session_id": Kind.HASH,
    "name": Kind.LABEL,
    "email": Kind.LABEL,
    "plan": Kind.TOKEN,
    "display_prefix": Kind.TOKEN,
    "last4": Kind.TOKEN,
    "requested_model": Kind.TOKEN,
    "served_model": Kind.TOKEN,
    "model": Kind.TOKEN,
    "provider": Kind.TOKEN,
    "data_policy": Kind.POLICY,
    "data_policy_required": Kind.POLICY,
    "data_policy_served": Kind.POLICY,
    **{column: Kind.ENUM for _, column in _ENUMS},
}

_ID = re.compile(r"[a-z]{2,8}_[0-9a-f]{8,64}")
_HASH = re.compile(r"[0-9a-f]{64}")
_TOKEN = re.compile(r"[\w.:/@+\-]{1,64}")
# The closed vocabulary of data-policy labels (`data_policy.py`), one comma-separated word.
_POLICY_WORD = re.compile(
    r"zero-retention|no-training|region=[a-z][a-z0-9-]{1,23}|retention-days=(\d{1,5}|unknown)"
    r"|training=(yes|no|unknown)"
)
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:?\d{2}|Z)?)?")
# `{…}` hash tags: the `limits` library pins a window's keys to one Redis Cluster slot.
_REDIS_NAME = re.compile(r"[\w.:/\-{}]{1,200}")
_REDIS_VALUE = re.compile(r"[\w.:/\-]{1,128}")
# A label is a name, not a message: the API caps names at 100 characters.
_LABEL_MAX_CHARS = 100
_LABEL_MAX_WORDS = 8
_BATCH_ROWS = 1000


def kind_of(table: Table, column: str) -> Kind:
    if isinstance(table.c[column].type, JSON):
        return Kind.JSON
    return TEXT_KINDS.get(column, Kind.VALUE)


# --- what is stored ----------------------------------------------------------------------
def describe(retention_days: int) -> str:
    """The tables RoutePlex writes, their columns and retention, and its Redis keys
    (Markdown, exactly as the README shows it)."""
    lines = ["| table | columns | kept |", "|---|---|---|"]
    for table in metadata.tables.values():  # in the order schema.py defines them
        if table.name not in RETENTION:
            raise LookupError(f"no retention stated for table {table.name}")
        columns = ", ".join(c.name for c in table.columns)
        kept = RETENTION[table.name].format(days=retention_days)
        lines.append(f"| `{table.name}` | {columns} | {kept} |")
    lines += ["", "| Redis key (with `ROUTEPLEX_REDIS_URL`) | holds | kept |", "|---|---|---|"]
    lines += [f"| `{key}` | {holds} | {kept} |" for key, holds, kept in REDIS_KEYS]
    return "\n".join(lines)


# --- scanning ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Finding:
    """Where a value that looks like content was found, and why — never the value."""

    where: str
    reason: str


@dataclass(slots=True)
class Report:
    database: str = ""
    created: bool = True  # False: the database file does not exist yet
    tables: int = 0
    rows: int = 0
    redis_keys: int | None = None  # None: no Redis configured
    findings: list[Finding] = field(default_factory=list)


def _shape(text_value: str) -> str:
    words = len(text_value.split())
    return f"{len(text_value)} chars, {words} word{'s' if words != 1 else ''}"


def _text_problem(kind: Kind, value: str, allowed: frozenset[str] | None = None) -> str | None:
    """Why `value` is not a `kind`, or None when it is one."""
    if kind is Kind.ENUM and allowed is not None:
        return None if value in allowed else f"not one of its known values ({_shape(value)})"
    if kind is Kind.LABEL:
        if any(ch < " " for ch in value):
            return f"multi-line text ({_shape(value)})"
        if len(value) > _LABEL_MAX_CHARS or len(value.split()) > _LABEL_MAX_WORDS:
            return f"long free text ({_shape(value)})"
        return None
    if kind is Kind.POLICY:
        words = value.split(", ")
        if len(words) <= 24 and all(_POLICY_WORD.fullmatch(word) for word in words):
            return None
        return f"not a data-policy label ({_shape(value)})"
    pattern = {Kind.ID: _ID, Kind.HASH: _HASH}.get(kind, _TOKEN)
    if kind is Kind.VALUE:
        ok = bool(_NUMBER.fullmatch(value) or _INSTANT.fullmatch(value))
        return None if ok else f"text in a number or time column ({_shape(value)})"
    return None if pattern.fullmatch(value) else f"free text, not {kind.value} ({_shape(value)})"


def _json_leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _json_leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_leaves(item)
    else:
        yield value


def value_problem(kind: Kind, value: Any, allowed: frozenset[str] | None = None) -> str | None:
    """Why a stored value does not have its column's shape, or None."""
    if value is None or isinstance(value, bool | int | float | Decimal | date | datetime):
        return None  # numbers and times carry no text, whatever the column
    if kind is Kind.JSON:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return f"not JSON ({_shape(value)})"
        for leaf in _json_leaves(value):
            if isinstance(leaf, str) and not _TOKEN.fullmatch(leaf):
                return f"free text inside JSON ({_shape(leaf)})"
        return None
    if isinstance(value, bytes | memoryview):
        return "binary data"
    return _text_problem(kind, str(value), allowed)


def _row_label(table: Table, row: dict[str, Any], number: int) -> str:
    """The row's primary key, if every part of it is safe to print; else its position."""
    parts = []
    for column in table.primary_key.columns:
        value = row.get(column.name)
        if value is None or value_problem(kind_of(table, column.name), value) is not None:
            return f"row {number}"
        parts.append(f"{column.name}={value}")
    return ", ".join(parts)


def scan_rows(
    table: Table, rows: Iterable[dict[str, Any]], start: int = 1
) -> tuple[int, list[Finding]]:
    """Every value of every row against its column's shape; rows are numbered from `start`."""
    findings: list[Finding] = []
    count = 0
    for number, row in enumerate(rows, start=start):
        count += 1
        for column, value in row.items():
            if column not in table.c:
                continue  # reported once per table by the caller
            allowed = _ENUMS.get((table.name, column))
            problem = value_problem(kind_of(table, column), value, allowed)
            if problem is not None:
                where = f"{table.name}.{column} ({_row_label(table, row, number)})"
                findings.append(Finding(where, problem))
    return count, findings


def _layout(connection: Connection) -> dict[str, list[str]]:
    inspector = inspect(connection)
    return {
        name: [c["name"] for c in inspector.get_columns(name)]
        for name in inspector.get_table_names()
    }


async def _scan_table(connection: AsyncConnection, table: Table, report: Report) -> None:
    # Raw SQL, no type processing: a value planted in the wrong column type shows as it is.
    # Streamed in batches, so a large metadata table is never held in memory at once.
    result = await connection.stream(text(f'SELECT * FROM "{table.name}"'))
    start = 1
    async for batch in result.mappings().partitions(_BATCH_ROWS):
        count, findings = scan_rows(table, (dict(row) for row in batch), start)
        start += count
        report.rows += count
        report.findings += findings


async def scan_database(url: str, report: Report) -> None:
    backend, driver_url = async_url(url)
    report.database = backend
    if backend == "sqlite":
        directory = sqlite_directory(driver_url)
        if directory is not None and not await asyncio.to_thread(_exists, driver_url.database):
            report.created = False  # nothing has been stored yet; do not create it
            return
    engine = create_engine(backend, driver_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            layout = await connection.run_sync(_layout)
            for name, columns in sorted(layout.items()):
                if name in _INTERNAL_TABLES:
                    continue
                table = metadata.tables.get(name)
                if table is None:
                    report.findings.append(Finding(name, "a table RoutePlex does not define"))
                    continue
                for column in columns:
                    if column not in table.c:
                        where = f"{name}.{column}"
                        report.findings.append(Finding(where, "a column RoutePlex does not define"))
                report.tables += 1
                await _scan_table(connection, table, report)
    finally:
        await engine.dispose()


def _exists(path: str | None) -> bool:
    return path is not None and Path(path).exists()


def _redis_text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


async def _redis_values(client: Redis, key: bytes) -> list[Any] | None:
    """Every field, value and member stored under `key`; None for a type RoutePlex never
    writes. Sorted-set scores are numbers (lease expiries) and not returned."""
    kind = _redis_text(await client.type(key))
    if kind == "string":
        return [await client.get(key)]
    if kind == "hash":
        pairs: dict[Any, Any] = await client.hgetall(key)
        return [*pairs.keys(), *pairs.values()]
    if kind == "zset":
        return list(await client.zrange(key, 0, -1))
    if kind == "list":
        return list(await client.lrange(key, 0, -1))
    if kind == "set":
        return list(await client.smembers(key))
    if kind == "none":
        return []  # expired between SCAN and TYPE
    return None


async def scan_redis(url: str, report: Report) -> None:
    client: Redis = Redis.from_url(url)
    report.redis_keys = 0
    try:
        async for key in client.scan_iter(match=REDIS_PATTERN, count=500):
            report.redis_keys += 1
            name = _redis_text(key)
            where = f"redis {name}"
            if not _REDIS_NAME.fullmatch(name):
                where = f"redis key {report.redis_keys}"  # the name itself is not repeated
                report.findings.append(Finding(where, f"free text in its name ({_shape(name)})"))
            values = await _redis_values(client, key)
            if values is None:
                report.findings.append(Finding(where, "a Redis type RoutePlex never writes"))
                continue
            for value in values:
                shown = _redis_text(value)
                if value is not None and not _REDIS_VALUE.fullmatch(shown):
                    report.findings.append(Finding(where, f"not a number or id ({_shape(shown)})"))
    finally:
        await client.aclose()


async def audit(settings: Settings) -> Report:
    """Scan the configured database and, when configured, Redis."""
    report = Report()
    await scan_database(settings.resolved_database_url, report)
    if settings.redis_url:
        await scan_redis(settings.redis_url, report)
    return report


def render(report: Report, retention_days: int) -> str:
    """The audit's full output: what is stored, what was scanned, and every finding."""
    lines = [
        "What RoutePlex stores — nothing else is written down (docs/design.md §4):",
        "",
        describe(retention_days),
        "",
        f"Scanned the {report.database} database: {report.tables} tables, {report.rows} rows."
        if report.created
        else f"The {report.database} database does not exist yet: nothing is stored.",
    ]
    if report.redis_keys is None:
        lines.append("Redis: not configured (limits are held in memory).")
    else:
        lines.append(f"Scanned Redis: {report.redis_keys} RoutePlex keys.")
    if not report.findings:
        lines.append("Nothing looks like request content.")
        return "\n".join(lines)
    lines.append(f"{len(report.findings)} value(s) look like content (values are not shown):")
    lines += [f"  - {f.where}: {f.reason}" for f in report.findings]
    return "\n".join(lines)
