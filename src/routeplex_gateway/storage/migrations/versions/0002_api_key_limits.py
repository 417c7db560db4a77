"""Per-key limits: `api_keys.limits`, caps that may only narrow the account's.

A nullable column without a default, so existing keys read as "no per-key caps" (NULL) and
the upgrade is a plain `ALTER TABLE … ADD COLUMN` on both backends: SQLite can add such a
column in place, and PostgreSQL does not rewrite the table for it.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Spelled out rather than imported, like every type in a revision (see 0001).
def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("limits", _json(), nullable=True))


def downgrade() -> None:
    # SQLite cannot always drop a column in place; batch mode rebuilds the table there and is
    # a plain ALTER TABLE on PostgreSQL.
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("limits")
