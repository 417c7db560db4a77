"""Real servers on real sockets for tests: an ASGI app served by uvicorn in a thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import uvicorn

from routeplex_gateway.config import Settings
from routeplex_gateway.protocol import BoundedHttpProtocol, HttpBounds

_GIVEN: set[int] = set()


def free_port() -> int:
    """A port nothing listens on — and one this test run has not handed out before, since the
    kernel may offer a just-released port again (two servers would then race for it)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


@contextmanager
def serve_in_thread(
    app: Any, *, port: int | None = None, settings: Settings | None = None, **config: Any
) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 in a background thread; yield its base URL.

    The server runs its own event loop, so tests may be sync or async. Lifespan events run,
    so the app starts and shuts down exactly as it does under `routeplex serve`. With
    `settings`, the connections are `routeplex serve`'s own (`protocol.py`: its HTTP bounds,
    and the connection telling the app when a client leaves); without, plain uvicorn's, as
    another ASGI server would serve the app.
    """
    if settings is not None:
        config.setdefault("http", partial(BoundedHttpProtocol, bounds=HttpBounds.of(settings)))
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config)
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
