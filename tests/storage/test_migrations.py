"""Migrations: upgrading is idempotent, safe to race, matches the schema module, and carries
existing data from one revision to the next (and back)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, text
from sqlalchemy.engine import Connection

from routeplex_gateway.storage import StorageError, Store, UsageRow
from routeplex_gateway.storage.connection import async_url, create_engine
from routeplex_gateway.storage.migrator import HEAD_REVISION, alembic_config
from routeplex_gateway.storage.schema import api_keys, billing_daily, metadata, request_metadata
from tests.storage.builders import ACME, DAY, NEXT_DAY, at, key_hash, metadata_record

HEAD = "0007"


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


def test_the_known_head_is_the_newest_migration() -> None:
    # The server skips Alembic when the database is at HEAD_REVISION: a new migration that
    # forgets to move it would never run.
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION


async def test_a_database_from_a_newer_routeplex_is_refused_clearly(
    empty_database_url: str,
) -> None:
    store = await Store.open(empty_database_url)
    try:
        await store.migrate()
        engine = create_engine(*async_url(empty_database_url), pool_size=1)
        try:
            async with engine.begin() as connection:
                await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        finally:
            await engine.dispose()
        assert await store.schema_revision() == "9999"
        with pytest.raises(StorageError, match=r"does not know.*newer version"):
            await store.migrate()
        assert await store.schema_revision() == "9999"  # untouched
    finally:
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
if "--expect-no-alembic" in sys.argv:
    assert "alembic" not in sys.modules, "Alembic loaded for a database already at head"
"""


async def test_a_database_at_head_is_opened_without_loading_alembic(database_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        MIGRATE_IN_A_PROCESS,
        database_url,
        "--expect-no-alembic",
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()


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


async def _schema_differences(database_url: str) -> list[object]:
    """What Alembic finds between the database and the schema module; [] when they agree."""

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    backend, url = async_url(database_url)
    engine = create_engine(backend, url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(differences)
    finally:
        await engine.dispose()


async def test_migrations_create_exactly_the_schema_module(empty_database_url: str) -> None:
    store = await Store.open(empty_database_url)
    try:
        await store.migrate()
    finally:
        await store.close()

    assert await _schema_differences(empty_database_url) == []


async def _alembic(url: str, action: Callable[[Config, str], None], revision: str) -> None:
    """Run an Alembic command (`command.upgrade`, `command.downgrade`) to `revision`."""
    backend, driver_url = async_url(url)
    engine = create_engine(backend, driver_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: action(alembic_config(sync), revision))
    finally:
        await engine.dispose()


async def _insert_key_as_at_0001(url: str, account_id: str) -> str:
    """Insert a key with the columns of revision 0001 only; returns its hash."""
    stored_hash = key_hash()
    now = datetime.now(UTC)
    backend, driver_url = async_url(url)
    engine = create_engine(backend, driver_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(api_keys).values(
                    id="key_0000000000000001",
                    account_id=account_id,
                    name="old",
                    key_hash=stored_hash,
                    display_prefix="rp_live_ab12",
                    last4="wxyz",
                    created_at=now,
                    updated_at=now,
                    allowed_models=["gpt-4o-mini"],
                )
            )
    finally:
        await engine.dispose()
    return stored_hash


async def _insert_metadata_as_at_0001(url: str, account_id: str) -> None:
    """Insert a metadata row with the columns of revision 0001 only."""
    row = metadata_record(account_id=account_id).as_row()
    del row["usage_estimated"]  # revision 0005's
    for column in ("data_policy_required", "data_policy_met", "data_policy_served"):
        del row[column]  # revision 0007's
    row["endpoint"], row["routing_mode"] = str(row["endpoint"]), str(row["routing_mode"])
    backend, driver_url = async_url(url)
    engine = create_engine(backend, driver_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(request_metadata).values(**row))
    finally:
        await engine.dispose()


async def test_upgrade_from_0001_keeps_existing_keys(empty_database_url: str) -> None:
    store = await Store.open(empty_database_url)  # first: it creates SQLite's directory
    try:
        await _alembic(empty_database_url, command.upgrade, "0001")
        assert await store.schema_revision() == "0001"
        account = await store.create_account("acme", plan="pro")
        old_hash = await _insert_key_as_at_0001(empty_database_url, account.id)
        await _insert_metadata_as_at_0001(empty_database_url, account.id)

        await store.migrate()

        assert await store.schema_revision() == HEAD
        found = await store.find_key(old_hash)
        assert found is not None
        old, owner = found
        assert owner == account
        assert (old.limits, old.allowed_models, old.revoked_at) == (None, ("gpt-4o-mini",), None)
        assert old.usable_at(datetime.now(UTC))
        assert [key for key, _ in await store.keys_changed_since(None)] == [old]
        [existing] = await store.recent_metadata(account.id)
        assert existing.usage_estimated is False  # reported usage, as every earlier row

        assert await store.set_key_limits(old.id, {"rpm": 10}) is True
        new = await store.insert_key(
            account_id=account.id,
            name="new",
            key_hash=key_hash(),
            display_prefix="rp_live_cd34",
            last4="abcd",
            expires_at=None,
            allowed_models=None,
            limits={"concurrency": 2},
        )
        keys = await store.list_keys(account.id)
        assert [(key.id, key.limits) for key in keys] == [
            (old.id, {"rpm": 10}),
            (new.id, {"concurrency": 2}),
        ]
    finally:
        await store.close()


async def test_downgrade_to_0001_keeps_keys_and_upgrades_again(empty_database_url: str) -> None:
    store = await Store.open(empty_database_url)
    try:
        await store.migrate()
        account = await store.create_account("acme")
        key = await store.insert_key(
            account_id=account.id,
            name="ci",
            key_hash=key_hash(),
            display_prefix="rp_live_ab12",
            last4="wxyz",
            expires_at=None,
            allowed_models=None,
            limits={"rpm": 10},
        )

        await _alembic(empty_database_url, command.downgrade, "0001")
        assert await store.schema_revision() == "0001"
        await store.migrate()

        assert await store.schema_revision() == HEAD
        # The limits went with the column; the key itself is intact.
        assert await store.find_key(key.key_hash) == (replace(key, limits=None), account)
    finally:
        await store.close()
    # SQLite rebuilt the table to drop the column: its indexes and foreign key came back too.
    assert await _schema_differences(empty_database_url) == []


async def _bill_as_at_0003(url: str) -> None:
    """A billing row appended at revision 0003: without a refused count."""
    backend, driver_url = async_url(url)
    engine = create_engine(backend, driver_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(billing_daily).values(
                    day=DAY,
                    account_id=ACME,
                    model="gpt-4o-mini",
                    requests=2,
                    input_tokens=100,
                    output_tokens=10,
                    cache_read_tokens=0,
                    cache_write_tokens=0,
                    reasoning_tokens=0,
                    cost_picousd=None,
                    unknown_cost_requests=2,
                    created_at=datetime.now(UTC),
                )
            )
    finally:
        await engine.dispose()


async def test_upgrade_to_0004_keeps_billed_days_and_counts_refusals_after(
    empty_database_url: str,
) -> None:
    refused = metadata_record(
        account_id=ACME,
        created_at=at(NEXT_DAY, 1),
        served_model=None,
        provider=None,
        attempts=0,
        input_tokens=None,
        output_tokens=None,
        cost_picousd=None,
        ttfb_ms=None,
        http_status=400,
        error_code="validation_error",
    )
    store = await Store.open(empty_database_url)
    try:
        await _alembic(empty_database_url, command.upgrade, "0003")
        await _bill_as_at_0003(empty_database_url)

        await store.migrate()
        await store.insert_metadata([refused])
        assert await store.append_billing_day(NEXT_DAY) == 1

        def counts(rows: list[UsageRow]) -> list[tuple[object, ...]]:
            return [(r.day, r.requests, r.unknown_cost_requests, r.refused_requests) for r in rows]

        # The day billed before 0004 did not count refusals apart: unknown (None), not 0.
        assert counts(await store.usage_by_day(account_id=ACME, since=DAY)) == [
            (DAY, 2, 2, None),
            (NEXT_DAY, 1, 0, 1),
        ]

        await _alembic(empty_database_url, command.downgrade, "0003")
        await store.migrate()
        assert counts(await store.billing(account_id=ACME, since=DAY)) == [
            (DAY, 2, 2, None),
            (NEXT_DAY, 1, 0, None),
        ]
    finally:
        await store.close()
    assert await _schema_differences(empty_database_url) == []
