"""Fixtures for fault tests: a gateway whose Redis can be slowed, cut or flushed, and the
two checks every fault test ends with — one metadata row per request id, no slot left held."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from routeplex_gateway.app import create_app
from tests.conftest import RunningGateway, gateway_settings
from tests.support.accounts import create_account_with_key
from tests.support.servers import serve_in_thread
from tests.support.tcp_proxy import TcpProxy, tcp_proxy


@contextmanager
def gateway_on_redis(
    tmp_path: Path, simulator_url: str, redis_port: int, **settings: Any
) -> Iterator[tuple[RunningGateway, TcpProxy]]:
    """A gateway with a fresh SQLite database whose Redis is reached through a proxy the test
    controls; account "alice" is on the `usage` plan."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with tcp_proxy(redis_port) as proxy:
        config = gateway_settings(
            data_dir, redis_url=f"redis://127.0.0.1:{proxy.port}/0", **settings
        )
        running = RunningGateway(url="", data_dir=data_dir, simulator_url=simulator_url)
        running.keys["alice"] = create_account_with_key(config, "alice")
        with serve_in_thread(create_app(config, simulator_url=simulator_url)) as url:
            running.url = url
            yield running, proxy


def today(gw: RunningGateway, key: str) -> dict[str, Any]:
    """`GET /api/v1/account`'s `today`: tokens, in flight, …"""
    response = httpx.get(
        f"{gw.url}/api/v1/account", headers={"Authorization": f"Bearer {key}"}, timeout=20
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]["today"]
    return data


def rows_by_id(gw: RunningGateway, request_ids: list[str], timeout: float = 5.0) -> dict[str, Any]:
    """The metadata rows of these request ids, once the batched writer has written them all
    (or the timeout passed): one row per id is the promise."""
    deadline = time.monotonic() + timeout
    while True:
        rows = gw.rows("SELECT * FROM request_metadata")
        found = {row["request_id"]: row for row in rows if row["request_id"] in request_ids}
        if len(found) == len(set(request_ids)) or time.monotonic() > deadline:
            assert len(rows) == len({row["request_id"] for row in rows})  # never twice
            return found
        time.sleep(0.05)
