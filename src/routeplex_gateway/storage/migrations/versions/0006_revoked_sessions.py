"""`revoked_sessions`: dashboard sessions ended by signing out.

A session cookie is signed and stateless, so signing out could only clear it in the browser
that asked; a copy kept elsewhere stayed good until it expired (12 h by default). Each
gateway now refuses the sessions named here, at once in the process that signed out and
within `ROUTEPLEX_KEY_REFRESH_S` in every other. A row is kept until the session it names
would have expired.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revoked_sessions",
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_revoked_sessions"),
    )
    op.create_index("ix_revoked_sessions_revoked_at", "revoked_sessions", ["revoked_at"])


def downgrade() -> None:
    op.drop_index("ix_revoked_sessions_revoked_at", table_name="revoked_sessions")
    op.drop_table("revoked_sessions")
