"""Migrations: upgrading is idempotent, safe to race, and matches the schema module."""

from __future__ import annotations

import asyncio
import os
import sys

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from routeplex_gateway.storage import Store
from routeplex_gateway.storage.connection import async_url, create_engine
from routeplex_gateway.storage.schema import metadata

HEAD = "0001"


async def test_migrate_creates_the_schema_and_a_second_run_changes_nothing(
    empty_database_url: str,
) -> None:
    store = await Store.open(empty_database_url)
    try:
        assert await store.schema_revision() is None
        await store.migrate()
        assert await store.schema_revision() == HEAD
        account = await store.create_account("acme")

        await store.migrate()

        assert await store.schema_revision() == HEAD
        assert await store.list_accounts() == [account]
    finally:
        await store.close()


async def test_concurrent_migrations_from_several_connections(empty_database_url: str) -> None:
    stores = [await Store.open(empty_database_url) for _ in range(4)]
    try:
        await asyncio.gather(*(store.migrate() for store in stores))
        assert [await store.schema_revision() for store in stores] == [HEAD] * 4
    finally:
        for store in stores:
            await store.close()


MIGRATE_IN_A_PROCESS = """
import asyncio, sys
from routeplex_gateway.storage import Store

async def main() -> None:
    store = await Store.open(sys.argv[1])
    try:
        await store.migrate()
    finally:
        await store.close()

asyncio.run(main())
"""


async def test_concurrent_migrations_from_two_processes(empty_database_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            MIGRATE_IN_A_PROCESS,
            empty_database_url,
            env=env,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = await asyncio.gather(*(process.communicate() for process in processes))
    for process, (_stdout, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr.decode()
    store = await Store.open(empty_database_url)
    try:
        assert await store.schema_revision() == HEAD
    finally:
        await store.close()


async def test_migrations_create_exactly_the_schema_module(empty_database_url: str) -> None:
    store = await Store.open(empty_database_url)
    try:
        await store.migrate()
    finally:
        await store.close()

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    backend, url = async_url(empty_database_url)
    engine = create_engine(backend, url, pool_size=1)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()
