"""Schema migrations, run from code: Alembic with the environment packaged in `migrations/`.

No alembic.ini is needed at runtime; the configuration is built here. Upgrading is safe to
call on every start, twice, and from several processes at once: the upgrade runs in one
transaction that first takes a cluster-wide advisory lock (PostgreSQL) or the database write
lock (SQLite), so the second runner waits and then finds the schema already at head.
The same locks also keep concurrent upgrades within one process apart, which matters because
Alembic's `context`/`op` proxies are process-global.

Alembic (with Mako and Pygments behind it, ~10 MB resident) is imported only when there is
something to migrate: a server starting on a database already at `HEAD_REVISION` reads the
version table with one query and never loads it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from routeplex_gateway.storage.connection import SQLITE_BEGIN_MODE, SQLITE_BUSY_TIMEOUT_MS
from routeplex_gateway.storage.errors import StorageError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIRECTORY = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions (a test holds the two equal).
HEAD_REVISION = "0007"
VERSION_TABLE = "alembic_version"

# Arbitrary but fixed: every RoutePlex process must agree on it. (int64 of "rp-migr".)
ADVISORY_LOCK_KEY = 0x72702D6D69677200


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration; `connection` is the one `migrations/env.py` migrates."""
    from alembic.config import Config

    config = Config()
    # Config values go through ConfigParser interpolation, where "%" is special.
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Upgrade the database behind `engine` to the newest revision."""
    if await _first_revision(engine) == HEAD_REVISION:
        return  # the schema only moves forward: nothing can undo this between here and use
    async with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            await connection.execution_options(**{SQLITE_BEGIN_MODE: "IMMEDIATE"})
        async with connection.begin():
            await connection.run_sync(_upgrade)


async def _first_revision(engine: AsyncEngine) -> str | None:
    """`current_revision`, waiting out another process that is creating a new SQLite file.

    A new SQLite file turns WAL only with its first write; until another process's migration
    commits, connecting (which switches to WAL) is refused at once, not after the busy
    timeout. PostgreSQL never refuses this way.
    """
    deadline = asyncio.get_running_loop().time() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return await current_revision(engine)
        except OperationalError as exc:
            locked = "database is locked" in str(exc.orig)
            if not locked or asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.05)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None when it was never migrated)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revision)


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.util import CommandError

    if connection.dialect.name == "postgresql":
        # Transaction-scoped: released by the commit (or rollback) of this very upgrade.
        connection.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
    try:
        command.upgrade(alembic_config(connection), "head")
    except CommandError:
        # Typically a database migrated by a newer RoutePlex than this one. Alembic's text
        # names only revisions, but it is not chained: the message says what to do.
        raise StorageError(
            "migrate: the database is at a schema revision this RoutePlex does not know "
            "(was it migrated by a newer version?)"
        ) from None


def _current_revision(connection: Connection) -> str | None:
    # What Alembic's MigrationContext.get_current_revision() reads, without loading Alembic.
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    if len(rows) > 1:
        raise StorageError("migrate: the schema has several heads, which RoutePlex never makes")
    return rows[0][0] if rows else None
