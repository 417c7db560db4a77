"""Fixtures for fault tests: a gateway whose Redis can be slowed, cut or flushed, a stream
held open mid-answer, and the two checks every fault test ends with — one metadata row per
request id, no slot left held."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from routeplex_gateway.app import create_app
from tests.conftest import RunningGateway, assert_nothing_sent_was_stored, gateway_settings
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
        with serve_in_thread(
            create_app(config, simulator_url=simulator_url), settings=config
        ) as url:
            running.url = url
            yield running, proxy


@pytest.fixture
def gw(tmp_path: Path, simulator_url: str) -> Iterator[RunningGateway]:
    """A gateway on the shared simulator whose providers time out after 1 s (plus 1 s per 50
    tokens of a plain answer's cap), so that a hung provider is given up quickly; account
    "alice". Nothing the tests sent may be stored anywhere, checked at the end."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = gateway_settings(data_dir, upstream_timeout_s=1.0)
    running = RunningGateway(url="", data_dir=data_dir, simulator_url=simulator_url)
    running.keys["alice"] = create_account_with_key(settings, "alice")
    with serve_in_thread(create_app(settings, simulator_url=simulator_url)) as url:
        running.url = url
        yield running
    assert_nothing_sent_was_stored(running)


def fault(gw: RunningGateway, **spec: Any) -> None:
    """Register a fault with the simulator (`simulator/faults.py` says what `spec` takes)."""
    response = httpx.post(f"{gw.simulator_url}/_simulator/faults", json=spec)
    assert response.status_code == 201, response.text


def today(gw: RunningGateway | str, key: str) -> dict[str, Any]:
    """`GET /api/v1/account`'s `today` (from a gateway or a replica's URL): tokens, in
    flight, …"""
    url = gw if isinstance(gw, str) else gw.url
    response = httpx.get(
        f"{url}/api/v1/account", headers={"Authorization": f"Bearer {key}"}, timeout=20
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


def stream_held_open(simulator_url: str, url: str, key: str) -> threading.Thread:
    """Start a stream (no `max_tokens`: it reserves the model's whole output) whose upstream
    stalls after its first chunk, and return once that chunk has arrived: the request stays
    in flight until the simulator's faults are cleared or its gateway dies. The thread ends
    with the stream."""
    httpx.post(
        f"{simulator_url}/_simulator/faults",
        json={"model": "gpt-4o-mini", "stall_after_chunks": 1, "count": 1},
    )
    first_chunk = threading.Event()

    def stream() -> None:
        try:
            with httpx.stream(
                "POST",
                f"{url}/v1/chat/completions",
                json={
                    "model": "gpt-4o-mini",
                    "stream": True,
                    "messages": [{"role": "user", "content": "hi"}],
                },
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            ) as response:
                for _ in response.iter_lines():
                    first_chunk.set()
        except httpx.TransportError:
            pass  # its gateway was killed under it

    reader = threading.Thread(target=stream, daemon=True)
    reader.start()
    assert first_chunk.wait(15), "the stream's first chunk never came"
    return reader
