"""Storage fixtures: every `store` test runs against SQLite and against PostgreSQL.

SQLite: a fresh file under `tmp_path` per test. PostgreSQL: one uniquely named database per
session on 127.0.0.1:5432 (created and migrated once, emptied before each test, dropped at the
end), plus fresh databases for migration tests. The server is reached as the first user that
works, `postgres` then `root`, or through `ROUTEPLEX_TEST_POSTGRES_URL` (an admin URL that
may create databases). Without a server the PostgreSQL cases are skipped locally, but fail
when `CI` is set: CI must never pass by silently skipping a backend.

`traffic` is a store holding a few requests around a UTC day boundary, for the usage tests.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import NoReturn

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

from routeplex_gateway.storage import Store
from tests.storage.builders import (
    ACME,
    DAY,
    NEW_YORK,
    NEXT_DAY,
    OTHER,
    at,
    metadata_record,
    unanswered_record,
)

BACKENDS = ("sqlite", "postgresql")
ADMIN_USERS = ("postgres", "root")
HOST, PORT, MAINTENANCE_DB = "127.0.0.1", 5432, "test"
SESSION_TZ = "Pacific/Kiritimati"  # UTC+14
TABLES = ("billing_daily", "request_metadata", "api_keys", "accounts", "revoked_sessions")


@dataclass(frozen=True)
class PostgresServer:
    """An administrative connection string for the test server."""

    admin_dsn: str

    def url(self, database: str) -> str:
        """The URL of `database` on this server, as the same user."""
        return make_url(self.admin_dsn).set(database=database).render_as_string(hide_password=False)

    async def create_database(self) -> str:
        name = "rp_storage_" + secrets.token_hex(6)
        connection = await asyncpg.connect(self.admin_dsn)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
            # Far from UTC, so a day computed in the session's time zone would show in tests.
            await connection.execute(f"ALTER DATABASE \"{name}\" SET timezone TO '{SESSION_TZ}'")
        finally:
            await connection.close()
        return name

    async def drop_database(self, name: str) -> None:
        connection = await asyncpg.connect(self.admin_dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


async def _find_server() -> PostgresServer | str:
    override = os.environ.get("ROUTEPLEX_TEST_POSTGRES_URL")
    candidates = (
        [override]
        if override
        else [f"postgresql://{user}@{HOST}:{PORT}/{MAINTENANCE_DB}" for user in ADMIN_USERS]
    )
    failures = []
    for dsn in candidates:
        try:
            connection = await asyncpg.connect(dsn, timeout=5)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            failures.append(type(exc).__name__)
            continue
        await connection.close()
        return PostgresServer(admin_dsn=dsn)
    return "no candidate could connect (" + ", ".join(failures) + ")"


@pytest.fixture(scope="session")
async def postgres() -> PostgresServer:
    found = await _find_server()
    if isinstance(found, str):
        _unavailable(found)
    return found


@pytest.fixture(scope="session")
async def postgres_url(postgres: PostgresServer) -> AsyncIterator[str]:
    """The session's shared, migrated database."""
    name = await postgres.create_database()
    url = postgres.url(name)
    try:
        store = await Store.open(url)
        try:
            await store.migrate()
        finally:
            await store.close()
        yield url
    finally:
        await postgres.drop_database(name)


async def _empty_tables(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("TRUNCATE " + ", ".join(TABLES))
    finally:
        await connection.close()


# The backend-parametrised fixtures are synchronous and only pick which async fixture to use:
# an async fixture cannot request another one through `getfixturevalue` (its loop is running).


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a migrated, empty database, once per backend."""
    url: str = request.getfixturevalue(f"migrated_{request.param}_url")
    return url


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a database nothing has been created in yet, once per backend."""
    url: str = request.getfixturevalue(f"fresh_{request.param}_url")
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A store on `database_url`: every test using it runs on both backends."""
    opened = await Store.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def migrated_sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'routeplex.db'}"
    store = await Store.open(url)
    try:
        await store.migrate()
    finally:
        await store.close()
    return url


@pytest.fixture
async def migrated_postgresql_url(postgres_url: str) -> str:
    await _empty_tables(postgres_url)
    return postgres_url


@pytest.fixture
def fresh_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fresh' / 'routeplex.db'}"


@pytest.fixture
async def fresh_postgresql_url(postgres: PostgresServer) -> AsyncIterator[str]:
    name = await postgres.create_database()
    try:
        yield postgres.url(name)
    finally:
        await postgres.drop_database(name)


@pytest.fixture
async def traffic(store: Store) -> Store:
    """A few requests around the DAY/NEXT_DAY boundary, in several time zones."""
    sonnet = "claude-sonnet-4-20250514"
    await store.insert_metadata(
        [
            metadata_record(
                account_id=ACME,
                created_at=at(DAY, 0, 0),
                input_tokens=100,
                output_tokens=10,
                cache_read_tokens=40,
                reasoning_tokens=0,
                cost_picousd=1_000,
            ),
            metadata_record(
                account_id=ACME,
                created_at=at(DAY, 18, 59, NEW_YORK),  # 23:59 UTC: still DAY
                input_tokens=50,
                output_tokens=5,
                cache_write_tokens=7,
                reasoning_tokens=3,
                cost_picousd=500,
            ),
            # The provider failed before answering: counted under the requested model, tokens
            # and cost unknown, yet no model answered, so no price is missing either.
            unanswered_record(
                account_id=ACME,
                created_at=at(DAY, 12),
                requested_model=sonnet,
                http_status=502,
                error_code="provider_error",
            ),
            # Refused before any provider call (over a limit): refused, not unknown-priced.
            unanswered_record(
                account_id=ACME,
                created_at=at(DAY, 14),
                provider=None,
                attempts=0,
                http_status=429,
                error_code="rate_limited",
            ),
            # Unknown price, known tokens.
            metadata_record(
                account_id=ACME,
                created_at=at(DAY, 13),
                input_tokens=10,
                output_tokens=1,
                cost_picousd=None,
            ),
            # 19:30 in New York on DAY is 00:30 UTC on NEXT_DAY.
            metadata_record(
                account_id=ACME,
                created_at=at(DAY, 19, 30, NEW_YORK),
                served_model=sonnet,
                input_tokens=7,
                output_tokens=7,
                cost_picousd=70,
            ),
            metadata_record(
                account_id=ACME,
                created_at=at(NEXT_DAY, 1),
                requested_model=None,
                served_model=None,
                cost_picousd=None,
            ),
            metadata_record(account_id=OTHER, created_at=at(DAY, 9), cost_picousd=5),
            # Before any `since` used below.
            metadata_record(account_id=ACME, created_at=at(DAY - timedelta(days=1), 23, 59)),
        ]
    )
    return store
