"""`routeplex serve`'s connections tell the app when a client leaves mid-request (the
callback slot of `api/departure.py`), so no request needs a watcher task for it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

from starlette.types import Receive, Scope, Send

from routeplex_gateway.api.departure import DEPARTURE, on_departure
from routeplex_gateway.config import Settings
from tests.support.servers import serve_in_thread


class _Hanging:
    """An app that leaves a callback in the departure slot and waits; what happened is
    recorded for the test."""

    def __init__(self) -> None:
        self.offered: list[bool] = []
        self.left = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.offered.append(DEPARTURE in scope)
        stop = on_departure(scope, receive, self.left.set)
        try:
            await asyncio.sleep(30)
        finally:
            stop()


def _send_and_leave(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)


def test_the_connection_calls_back_when_its_client_leaves(tmp_path: Path) -> None:
    app = _Hanging()
    with serve_in_thread(app, settings=Settings(data_dir=tmp_path)) as url:
        _send_and_leave(url)
        assert app.left.wait(2), "the app was never told the client left"
    assert app.offered == [True]


def test_under_another_server_a_watcher_tells_the_app(tmp_path: Path) -> None:
    app = _Hanging()
    with serve_in_thread(app) as url:
        _send_and_leave(url)
        assert app.left.wait(2), "the watcher never told the app the client left"
    assert app.offered == [False]


def test_a_stopped_listener_is_not_called() -> None:
    called: list[bool] = []
    scope: Scope = {"type": "http", DEPARTURE: None}

    async def receive() -> dict[str, str]:
        raise AssertionError("the connection's callback needs no receive")

    stop = on_departure(scope, receive, lambda: called.append(True))
    assert callable(scope[DEPARTURE])
    stop()
    assert scope[DEPARTURE] is None and called == []
