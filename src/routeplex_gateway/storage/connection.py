"""Database URLs and engines: which backend a URL means, and how its engine is set up.

Users write `sqlite:///path.db` or `postgresql://user@host:port/db`; the store always runs the
async drivers (aiosqlite, asyncpg), so the plain forms are mapped onto them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

Backend = Literal["sqlite", "postgresql"]

# Execution option read by the SQLite `begin` hook: "IMMEDIATE" takes the write lock at BEGIN,
# which serialises migrations between processes the way an advisory lock does on PostgreSQL.
SQLITE_BEGIN_MODE = "routeplex_sqlite_begin"

_DRIVERS: dict[str, tuple[Backend, str]] = {
    "sqlite": ("sqlite", "sqlite+aiosqlite"),
    "sqlite+aiosqlite": ("sqlite", "sqlite+aiosqlite"),
    "postgresql": ("postgresql", "postgresql+asyncpg"),
    "postgres": ("postgresql", "postgresql+asyncpg"),
    "postgresql+asyncpg": ("postgresql", "postgresql+asyncpg"),
}

SQLITE_BUSY_TIMEOUT_MS = 5_000
POSTGRES_CONNECT_TIMEOUT_S = 10


def async_url(url: str) -> tuple[Backend, URL]:
    """The backend a database URL names, and the URL for its async driver.

    Errors never repeat the URL: it may carry a password.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("malformed database URL") from None
    mapping = _DRIVERS.get(parsed.drivername)
    if mapping is None:
        raise ValueError(
            "unsupported database URL scheme: use sqlite:///path or postgresql://user@host/db"
        )
    backend, drivername = mapping
    if backend == "sqlite" and not parsed.database:
        raise ValueError("a SQLite URL needs a file path: sqlite:///path/to/routeplex.db")
    return backend, parsed.set(drivername=drivername)


def sqlite_directory(url: URL) -> Path | None:
    """The directory a SQLite file database lives in (None for in-memory databases)."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).parent


def create_engine(backend: Backend, url: URL, *, pool_size: int) -> AsyncEngine:
    """An engine with small pools; statement parameters are kept out of error messages."""
    if backend == "sqlite":
        # SQLite allows one writer at a time; more connections only queue on the file lock.
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_connected)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # Replicas outlive database restarts and failovers; check before handing out.
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT_S},
    )


def _sqlite_connected(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module, which never BEGINs before SELECT
    # or DDL; `_sqlite_begin` emits BEGIN itself, so migrations and reads are transactional.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # First, so that switching to WAL below waits out another process's lock on a new file.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # WAL: readers never block the writer (the recorder) and vice versa.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Durable across process crashes in WAL mode; only a power loss can lose the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN_MODE, "DEFERRED")
    if mode not in ("DEFERRED", "IMMEDIATE"):
        raise ValueError("unknown SQLite transaction mode")
    connection.exec_driver_sql(f"BEGIN {mode}")
