"""INSERT … ON CONFLICT DO NOTHING, spelled for whichever backend runs the statement.

Both SQLite and PostgreSQL support the same clause; SQLAlchemy exposes it per dialect.
Inserting this way makes retried writes (a recorder batch, a billing day) idempotent and
lets two processes race without either failing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignoring_conflicts(
    table: Table, dialect_name: str, conflict_columns: Sequence[str]
) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` that skips rows clashing on `conflict_columns`."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
    if dialect_name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
    raise ValueError("unsupported database backend")
