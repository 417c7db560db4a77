"""Column types that read and write the same Python values on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on both backends.

    PostgreSQL stores `timestamptz`. SQLite has no timestamp type: SQLAlchemy stores ISO text
    and would silently drop an offset, so values are normalised to UTC first and the zone is
    put back on the way out. Because every stored value is UTC in one fixed format, text
    comparison on SQLite orders exactly like time, and `date(created_at)` is the UTC day.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            # A naive value is ambiguous; guessing would misplace rows across UTC days.
            raise ValueError("storage accepts timezone-aware datetimes only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_type() -> TypeEngine[Any]:
    """JSON on SQLite, JSONB on PostgreSQL; Python `None` is SQL NULL, not JSON `null`."""
    return JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def json_object(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """`value` as a plain dict for a JSON column: the serialiser refuses other mappings."""
    return None if value is None else dict(value)
