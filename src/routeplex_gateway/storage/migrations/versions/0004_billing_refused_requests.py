"""Refused requests in billing: `billing_daily.refused_requests`.

Requests the gateway refused before calling any provider (bad input, limits) used no model
and cost nothing; they were counted among the requests "without a known price". From this
revision they are counted apart. Rows appended before it keep NULL — their refusals were not
counted apart, so the number is unknown, not zero — and the table stays append-only: nothing
already billed is rewritten.

A nullable column without a default, so the upgrade is a plain `ALTER TABLE … ADD COLUMN` on
both backends (in place on SQLite; no table rewrite on PostgreSQL).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("billing_daily", sa.Column("refused_requests", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # SQLite cannot always drop a column in place; batch mode rebuilds the table there and is
    # a plain ALTER TABLE on PostgreSQL.
    with op.batch_alter_table("billing_daily") as batch:
        batch.drop_column("refused_requests")
