"""Opening a store: URL forms, backends, and `StorageError` when the database is unreachable."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from routeplex_gateway.storage import StorageError, Store
from routeplex_gateway.storage.connection import async_url
from tests.storage.builders import metadata_record


@pytest.mark.parametrize(
    ("url", "backend", "driver"),
    [
        ("sqlite:///data/routeplex.db", "sqlite", "sqlite+aiosqlite"),
        ("sqlite:////var/lib/routeplex/routeplex.db", "sqlite", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///routeplex.db", "sqlite", "sqlite+aiosqlite"),
        ("postgresql://rp@db:5432/routeplex", "postgresql", "postgresql+asyncpg"),
        ("postgres://rp@db/routeplex", "postgresql", "postgresql+asyncpg"),
        ("postgresql+asyncpg://rp:pw@db/routeplex", "postgresql", "postgresql+asyncpg"),
    ],
)
def test_urls_map_to_the_async_drivers(url: str, backend: str, driver: str) -> None:
    mapped_backend, mapped = async_url(url)
    assert (mapped_backend, mapped.drivername) == (backend, driver)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://rp:hunter2@db/routeplex",
        "postgresql+psycopg2://rp:hunter2@db/x",
        "hunter2",
        "sqlite://",
    ],
)
def test_unsupported_urls_are_refused_without_repeating_them(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        async_url(url)
    assert "hunter2" not in str(caught.value)


async def test_backend_and_ping(store: Store, database_url: str) -> None:
    assert store.backend == database_url.split(":", 1)[0]
    await store.ping()


async def test_sqlite_creates_the_parent_directory(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'a' / 'b' / 'routeplex.db'}")
    try:
        await store.migrate()
        assert (tmp_path / "a" / "b" / "routeplex.db").is_file()
    finally:
        await store.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens once the socket is closed


async def test_unreachable_postgresql_raises_storage_error() -> None:
    store = await Store.open(f"postgresql://postgres@127.0.0.1:{_closed_port()}/routeplex")
    try:
        with pytest.raises(StorageError):
            await store.ping()
        with pytest.raises(StorageError):
            await store.migrate()
        with pytest.raises(StorageError):
            await store.create_account("acme")
        with pytest.raises(StorageError):
            await store.insert_metadata([metadata_record()])
    finally:
        await store.close()


async def test_unopenable_sqlite_raises_storage_error(tmp_path: Path) -> None:
    # A directory where the database file should be.
    store = await Store.open(f"sqlite:///{tmp_path}")
    try:
        with pytest.raises(StorageError):
            await store.ping()
        with pytest.raises(StorageError):
            await store.list_accounts()
    finally:
        await store.close()
    # A regular file where the database's directory should be.
    (tmp_path / "file").write_text("")
    with pytest.raises(StorageError):
        await Store.open(f"sqlite:///{tmp_path / 'file' / 'routeplex.db'}")


async def test_an_unmigrated_database_raises_storage_error(empty_database_url: str) -> None:
    store = await Store.open(empty_database_url)
    try:
        with pytest.raises(StorageError):
            await store.list_accounts()
    finally:
        await store.close()
