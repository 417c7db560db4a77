"""Schema migrations, run from code: Alembic with the environment packaged in `migrations/`.

No alembic.ini is needed at runtime; the configuration is built here. Upgrading is safe to
call on every start, twice, and from several processes at once: the upgrade runs in one
transaction that first takes a cluster-wide advisory lock (PostgreSQL) or the database write
lock (SQLite), so the second runner waits and then finds the schema already at head.
The same locks also keep concurrent upgrades within one process apart, which matters because
Alembic's `context`/`op` proxies are process-global.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from routeplex_gateway.storage.connection import SQLITE_BEGIN_MODE

MIGRATIONS_DIRECTORY = Path(__file__).with_name("migrations")

# Arbitrary but fixed: every RoutePlex process must agree on it. (int64 of "rp-migr".)
ADVISORY_LOCK_KEY = 0x72702D6D69677200


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration; `connection` is the one `migrations/env.py` migrates."""
    config = Config()
    # Config values go through ConfigParser interpolation, where "%" is special.
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Upgrade the database behind `engine` to the newest revision."""
    async with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            await connection.execution_options(**{SQLITE_BEGIN_MODE: "IMMEDIATE"})
        async with connection.begin():
            await connection.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None when it was never migrated)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revision)


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Transaction-scoped: released by the commit (or rollback) of this very upgrade.
        connection.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
    command.upgrade(alembic_config(connection), "head")


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
