"""The machine's PostgreSQL and Redis for tests: skip when absent locally, fail in CI
(where `.ci/run` has started them, so absence is a real failure)."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

REDIS_URL = os.environ.get("ROUTEPLEX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_ADMIN_URLS = (
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://root@127.0.0.1:5432/test",
)


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def require(service: str, port: int) -> None:
    if _reachable(port):
        return
    message = f"{service} is not reachable on 127.0.0.1:{port}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run every test)")
    pytest.skip(message)


def require_redis() -> str:
    require("Redis", 6379)
    return REDIS_URL


def require_postgres() -> None:
    require("PostgreSQL", 5432)


def _admin_run(statement: str) -> str:
    """Run one statement as the first PostgreSQL admin user that works; return its URL."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import asyncpg

    async def run() -> str:
        last: Exception | None = None
        for url in POSTGRES_ADMIN_URLS:
            try:
                connection = await asyncpg.connect(url)
            except (OSError, asyncpg.PostgresError) as exc:
                last = exc
                continue
            try:
                await connection.execute(statement)
            finally:
                await connection.close()
            return url
        raise RuntimeError("no PostgreSQL user works") from last

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    require_postgres()
    name = f"rp_test_{secrets.token_hex(6)}"
    admin = _admin_run(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        _admin_run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
