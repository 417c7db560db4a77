"""Alembic environment: migrate the connection `storage.migrator` hands over.

At runtime the migrator passes an open connection, inside a transaction, through
`config.attributes["connection"]`. For developers running the `alembic` command (e.g.
`alembic revision --autogenerate`) with a config whose `sqlalchemy.url` names a database,
an engine is created from that URL instead. Logging is left as the host process set it.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from routeplex_gateway.storage.connection import async_url
from routeplex_gateway.storage.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url(url: str) -> None:
    _backend, driver_url = async_url(url)
    engine = create_async_engine(driver_url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def _main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("offline (SQL script) migrations are not supported")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given and no sqlalchemy.url configured")
    asyncio.run(_run_from_url(url))


_main()
