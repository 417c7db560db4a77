"""The machine's PostgreSQL and Redis for tests: skip when absent locally, fail in CI
(where `.ci/run` has started them, so absence is a real failure)."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
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


class PrivateRedis:
    """A redis-server of the test's own on a free port, without persistence: a test may flush
    it, stop it and start it again without touching the Redis other tests share."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _reachable(self.port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill it at once, as a crash would: everything it held is gone."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def flushall(self) -> None:
        subprocess.run(
            [_redis_server().replace("redis-server", "redis-cli"), "-p", str(self.port),
             "FLUSHALL"],
            check=True,
            capture_output=True,
            timeout=10,
        )  # fmt: skip


def _redis_server() -> str:
    path = shutil.which("redis-server")
    if path is None:
        message = "redis-server is not installed"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run every test)")
        pytest.skip(message)
    return path


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    from tests.support.servers import free_port

    redis = PrivateRedis(free_port())
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()
