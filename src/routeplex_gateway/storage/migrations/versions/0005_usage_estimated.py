"""`request_metadata.usage_estimated`: whether a row's tokens are the gateway's estimate.

A stream the client (or a shutdown) cut short before the provider reported usage is charged
its prompt and the output received so far, as estimated by the gateway; this says so. Not
null, default false, so every existing row reads as reported usage; adding a column with a
constant default is a plain `ALTER TABLE … ADD COLUMN` on both backends (no table rewrite
on PostgreSQL 11+).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "request_metadata",
        sa.Column("usage_estimated", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # SQLite cannot always drop a column in place; batch mode rebuilds the table there and is
    # a plain ALTER TABLE on PostgreSQL.
    with op.batch_alter_table("request_metadata") as batch:
        batch.drop_column("usage_estimated")
