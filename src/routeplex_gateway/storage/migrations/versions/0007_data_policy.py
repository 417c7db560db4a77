"""Data-policy routing: what accounts and keys require of the providers their prompts reach,
and what each request's row says about it.

`accounts.data_policy` and `api_keys.data_policy` hold a requirement's label
(`zero-retention, no-training, region=eu`; NULL: nothing required). `request_metadata` gains
the requirement applied (`data_policy_required`), whether it held (`data_policy_met`: NULL
when nothing was required) and the serving deployment's policy (`data_policy_served`). All
nullable without defaults, so existing rows read as "nothing required, policy not recorded"
and each upgrade is a plain `ALTER TABLE … ADD COLUMN` on both backends.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_METADATA_COLUMNS = ("data_policy_required", "data_policy_met", "data_policy_served")


def upgrade() -> None:
    op.add_column("accounts", sa.Column("data_policy", sa.Text(), nullable=True))
    op.add_column("api_keys", sa.Column("data_policy", sa.Text(), nullable=True))
    op.add_column("request_metadata", sa.Column("data_policy_required", sa.Text(), nullable=True))
    op.add_column("request_metadata", sa.Column("data_policy_met", sa.Boolean(), nullable=True))
    op.add_column("request_metadata", sa.Column("data_policy_served", sa.Text(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN on both backends (SQLite has it since 3.35, for columns
    # no index or constraint names, as these): batch mode would rebuild `accounts` by
    # dropping it, which the keys' foreign key refuses.
    for column in _METADATA_COLUMNS:
        op.drop_column("request_metadata", column)
    op.drop_column("api_keys", "data_policy")
    op.drop_column("accounts", "data_policy")
