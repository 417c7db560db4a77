"""HTTP/1.1 spoken by hand over a real socket, for tests of what the gateway does with requests
no well-behaved client would send (spoofed forwarding headers, oversized or trickled ones) —
and `routeplex serve` as a process such tests talk to."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from tests.support.serve import demo_key, launch
from tests.support.servers import free_port


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        value: dict[str, object] = orjson.loads(self.body)
        return value

    def code(self) -> object:
        """The RoutePlex error code, from either envelope."""
        error = self.json()["error"]
        assert isinstance(error, dict)
        return error["code"]


def read_reply(sock: socket.socket) -> Reply:
    """One response (status line, headers, a Content-Length body) read off `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Reply(int(status_line.split()[1]), headers, body[:length])


def request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> Reply:
    """One request on a fresh connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw_request(method, path, headers, body))
        return read_reply(sock)


def raw_request(
    method: str,
    path: str,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> bytes:
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    pairs = [("Host", "127.0.0.1"), *pairs]
    if body:
        pairs.append(("Content-Length", str(len(body))))
    head = "".join(f"{name}: {value}\r\n" for name, value in pairs)
    return f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode("latin-1") + body


def closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """Whether the other side closes `sock` within `timeout` seconds (whatever it sent first
    is read and dropped)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except OSError:  # reset
            return True
    return False


@dataclass
class Served:
    """A `routeplex serve` process: its port, pid and the demo key it printed."""

    port: int
    pid: int
    key: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def routeplex_serve(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[Served]:
    """`routeplex serve` on a free port with the simulated providers and `env` on top."""
    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ROUTEPLEX_"))}
    full |= {"ROUTEPLEX_DATA_DIR": str(data_dir), "ROUTEPLEX_PORT": str(port), "COLUMNS": "200"}
    full |= env or {}
    process, output = launch([], full)
    # Keep reading its log lines: a full pipe would stall the gateway mid-test.
    drain = threading.Thread(target=lambda: process.stdout and process.stdout.read(), daemon=True)
    drain.start()
    try:
        served = Served(port, process.pid, demo_key(output))
        deadline = time.monotonic() + 20
        while True:
            try:
                if request(port, "GET", "/health").status < 500:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, output
            time.sleep(0.05)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
