"""A client that closes its connection before a plain (non-streamed) answer arrives — or
before a stream's first chunk — gives its concurrency slot back at once: the upstream call is
cancelled, the request is charged what the provider may have consumed (its prompt, estimated
and marked so) and recorded once, 499.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from routeplex_gateway.app import create_app
from tests.conftest import RunningGateway, gateway_settings
from tests.faults.conftest import today
from tests.support.accounts import create_account_with_key
from tests.support.servers import serve_in_thread

MESSAGES = [{"role": "user", "content": "Tell me about the sea."}]


def _body(path: str, stream: bool = False) -> dict[str, object]:
    cap = "max_output_tokens" if path.startswith("/api") else "max_tokens"
    return {"model": "gpt-4o-mini", "messages": MESSAGES, cap: 50, "stream": stream}


def _upstream_count(gw: RunningGateway) -> int:
    return len(httpx.get(f"{gw.simulator_url}/_simulator/requests").json()["requests"])


def _forget_upstream(gw: RunningGateway) -> None:
    httpx.delete(f"{gw.simulator_url}/_simulator/requests")  # it keeps only the last 50


def _send_and_leave(gw: RunningGateway, key: str, path: str, stream: bool) -> None:
    """Send a whole request over a raw socket, wait until it reached the provider, close."""
    url = urlsplit(gw.url)
    body = orjson.dumps(_body(path, stream))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    _forget_upstream(gw)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(head.encode() + body)
        deadline = time.monotonic() + 5
        while _upstream_count(gw) == 0:
            assert time.monotonic() < deadline, "the request never reached the provider"
            time.sleep(0.02)


@pytest.fixture(params=["routeplex-serve", "another-asgi-server"])
def server(
    request: pytest.FixtureRequest, tmp_path: Path, simulator_url: str
) -> Iterator[RunningGateway]:
    """The gateway under `routeplex serve`'s connections, which tell the app when a client
    leaves, and under plain uvicorn's, where the app watches `receive` itself."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = gateway_settings(data_dir)
    running = RunningGateway(url="", data_dir=data_dir, simulator_url=simulator_url)
    running.keys["alice"] = create_account_with_key(settings, "alice")
    own = request.param == "routeplex-serve"
    app = create_app(settings, simulator_url=simulator_url)
    with serve_in_thread(app, settings=settings if own else None) as url:
        running.url = url
        yield running


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream-before-first-chunk"])
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/v1/chat"])
def test_a_client_leaving_before_the_answer_frees_its_slot_at_once(
    server: RunningGateway, path: str, stream: bool
) -> None:
    gateway = server
    key = gateway.add_account("solo", plan="evaluation")  # one request at a time
    httpx.post(
        f"{gateway.simulator_url}/_simulator/faults",
        json={"model": "gpt-4o-mini", "hang": True, "count": 1},
    )
    _send_and_leave(gateway, key, path, stream)
    left = time.monotonic()
    while today(gateway, key)["in_flight"] != 0:
        assert time.monotonic() - left < 1.0, "the slot is still held"
        time.sleep(0.02)
    # The slot is free: the account's next request is admitted and served.
    second = httpx.post(
        f"{gateway.url}{path}",
        json=_body(path),
        headers={"Authorization": f"Bearer {key}"},
        timeout=20,
    )
    assert second.status_code == 200, second.text
    rows = gateway.metadata(expect=2)
    assert sorted(r["http_status"] for r in rows) == [200, 499]
    gone = next(r for r in rows if r["http_status"] == 499)
    assert gone["usage_estimated"] == 1
    assert gone["input_tokens"] and gone["input_tokens"] < 50
    assert gone["output_tokens"] == 0
    served = next(r for r in rows if r["http_status"] == 200)
    # Charged the prompt it sent, not the reservation for an answer never given.
    used = today(gateway, key)
    assert used["in_flight"] == 0
    assert used["tokens"] == gone["input_tokens"] + served["input_tokens"] + served["output_tokens"]
