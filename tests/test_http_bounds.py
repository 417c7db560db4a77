"""What one client can make the gateway hold: header size and count, time to send the headers
and the body, idle keep-alive, concurrent connections. Raw HTTP over real sockets to
`routeplex serve`, with short time bounds so a slow-loris is over in seconds."""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.raw_http import (
    Reply,
    Served,
    closed_by_peer,
    raw_request,
    read_reply,
    request,
    routeplex_serve,
)

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
KEEPALIVE_TIMEOUT_S = 2.0
MAX_CONNECTIONS = 10
# How late a cut may come: the bound, plus the body backstop's grace, plus a loaded machine.
SLACK_S = 1.5
BODY = b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}'


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = {
        "ROUTEPLEX_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "ROUTEPLEX_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "ROUTEPLEX_KEEPALIVE_TIMEOUT_S": str(KEEPALIVE_TIMEOUT_S),
        "ROUTEPLEX_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    }
    with routeplex_serve(tmp_path_factory.mktemp("bounds"), env) as running:
        yield running


def auth(served: Served) -> dict[str, str]:
    return {"Authorization": f"Bearer {served.key}"}


# --- time -------------------------------------------------------------------------------------
def trickle(
    port: int, connections: dict[str, tuple[bytes, bytes]], *, every_s: float, for_s: float
) -> dict[str, tuple[float | None, bytes]]:
    """Open one connection per entry; send its first bytes at once, then the rest one byte
    every `every_s` seconds. Per entry: when the gateway closed it (None: still open after
    `for_s`), and what it sent back."""
    socks = {name: socket.create_connection(("127.0.0.1", port)) for name in connections}
    started = time.monotonic()
    for name, sock in socks.items():
        sock.sendall(connections[name][0])
        sock.setblocking(False)
    sent = dict.fromkeys(connections, 0)
    received = dict.fromkeys(connections, b"")
    closed: dict[str, float | None] = dict.fromkeys(connections)
    next_send = started
    try:
        while time.monotonic() - started < for_s and None in closed.values():
            if time.monotonic() >= next_send:
                next_send += every_s
                for name, sock in socks.items():
                    rest = connections[name][1]
                    if closed[name] is None and sent[name] < len(rest):
                        try:
                            sent[name] += sock.send(rest[sent[name] : sent[name] + 1])
                        except OSError:
                            closed[name] = time.monotonic() - started
            waiting = [sock for name, sock in socks.items() if closed[name] is None]
            readable, _, _ = select.select(waiting, [], [], 0.05)
            for name, sock in socks.items():
                if sock in readable:
                    try:
                        chunk = sock.recv(65536)
                    except OSError:
                        chunk = b""
                    received[name] += chunk
                    if not chunk:
                        closed[name] = time.monotonic() - started
    finally:
        for sock in socks.values():
            sock.close()
    return {name: (closed[name], received[name]) for name in connections}


def status(received: bytes) -> int | None:
    return int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1 ") else None


def test_slow_loris_connections_are_cut_within_the_bounds(served: Served) -> None:
    length = {"Content-Type": "application/json", "Content-Length": str(len(BODY))}
    chat = raw_request("POST", "/v1/chat/completions", {**auth(served), **length})
    bad_key = raw_request("POST", "/v1/chat/completions", {"Authorization": "Bearer no", **length})
    slow_header = b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: "
    connections = {
        **{f"header-{i}": (slow_header, b"a" * 200) for i in range(3)},
        # The head at once, then the body a byte at a time.
        **{f"body-{i}": (chat, BODY) for i in range(2)},
        # Refused before its body was read (bad key), then left trickling the body.
        "early": (bad_key, BODY),
    }
    bound = max(HEADER_TIMEOUT_S, BODY_TIMEOUT_S) + SLACK_S
    results = trickle(served.port, connections, every_s=0.2, for_s=bound + 3)
    print(
        "\nslow-loris closed after (s):", {n: r[0] and round(r[0], 2) for n, r in results.items()}
    )
    for name, (closed, _) in results.items():
        assert closed is not None and closed <= bound, (name, closed)
    for name in ("header-0", "header-1", "header-2"):
        received = results[name][1]
        assert status(received) == 408, (name, received)
        assert b'"success":false' in received and b'"code":"request_timeout"' in received
    for name in ("body-0", "body-1"):
        received = results[name][1]
        assert status(received) == 408, (name, received)
        assert b'"type":"invalid_request_error"' in received  # the OpenAI envelope, on /v1
        assert b'"code":"request_timeout"' in received
        assert b"connection: close" in received.lower()
    assert status(results["early"][1]) == 401


def test_idle_connections_are_closed(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as silent:
        assert closed_by_peer(silent, HEADER_TIMEOUT_S + SLACK_S)
    with socket.create_connection(("127.0.0.1", served.port)) as kept:
        kept.sendall(raw_request("GET", "/v1/models", auth(served)))
        assert read_reply(kept).status == 200
        started = time.monotonic()
        assert closed_by_peer(kept, KEEPALIVE_TIMEOUT_S + SLACK_S)
        assert time.monotonic() - started >= KEEPALIVE_TIMEOUT_S - 0.5


# --- size -------------------------------------------------------------------------------------
def models(served: Served, headers: list[tuple[str, str]], path: str = "/v1/models") -> Reply:
    return request(served.port, "GET", path, [*auth(served).items(), *headers])


def test_an_oversized_header_line_is_refused(served: Served) -> None:
    assert models(served, [("X-Big", "a" * 8000)]).status == 200
    refused = models(served, [("X-Big", "a" * 8200)])
    assert refused.status == 431 and refused.code() == "headers_too_large"
    assert refused.json()["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    native = models(served, [("X-Big", "a" * 8200)], "/api/v1/models")
    assert native.status == 431 and native.json()["success"] is False
    long_url = models(served, [], "/v1/models?" + "a" * 8200)
    assert long_url.status == 414 and long_url.code() == "uri_too_long"


def test_oversized_headers_in_total_are_refused(served: Served) -> None:
    assert models(served, [(f"X-Big-{i}", "a" * 7000) for i in range(4)]).status == 200
    refused = models(served, [(f"X-Big-{i}", "a" * 7000) for i in range(5)])
    assert refused.status == 431 and refused.code() == "headers_too_large"


def test_too_many_headers_are_refused(served: Served) -> None:
    assert models(served, [(f"X-H{i}", "1") for i in range(90)]).status == 200
    refused = models(served, [(f"X-H{i}", "1") for i in range(101)])
    assert refused.status == 431 and refused.code() == "headers_too_large"


def memory_kib(pid: int) -> dict[str, int]:
    """The process's resident set now (VmRSS) and at its peak so far (VmHWM)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def test_a_200_mb_header_is_cut_early(served: Served) -> None:
    before = memory_kib(served.pid)
    chunk = b"a" * (1024 * 1024)
    sent = 0
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Huge: ")
        while sent < 200 * len(chunk):
            sock.sendall(chunk)
            sent += len(chunk)
            if select.select([sock], [], [], 0)[0]:
                break  # the gateway answered
        reply = read_reply(sock)
    after = memory_kib(served.pid)
    growth = {name: (after[name] - before[name]) / 1024 for name in after}
    print(f"\n200 MB header: answered after {sent / 2**20:.0f} MiB sent; growth in MiB {growth}")
    assert reply.status == 431 and reply.code() == "headers_too_large"
    assert sent <= 8 * len(chunk)  # the first chunks, and what the socket buffers held
    assert growth["VmHWM"] < 8 and growth["VmRSS"] < 8


# --- connections ------------------------------------------------------------------------------
def fill_the_cap(served: Served, held: list[socket.socket]) -> None:
    """Open connections up to the cap, each kept alive after a served request, into `held`."""
    for _ in range(MAX_CONNECTIONS):
        sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        held.append(sock)
        sock.sendall(raw_request("GET", "/v1/models", auth(served)))
        assert read_reply(sock).status == 200


def test_connections_over_the_cap_are_refused_with_503(served: Served) -> None:
    held: list[socket.socket] = []
    try:
        fill_the_cap(served, held)
        refused = models(served, [])
        assert refused.status == 503 and refused.code() == "too_many_connections"
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["connection"] == "close"
        native = models(served, [], "/api/v1/models")
        assert native.status == 503 and native.json()["success"] is False
        held.pop().close()
        deadline = time.monotonic() + 2
        while (reply := models(served, [])).status == 503 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reply.status == 200
    finally:
        for sock in held:
            sock.close()


def sockets_held(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    held = 0
    for fd in fds.iterdir():
        with contextlib.suppress(FileNotFoundError):  # closed while listed
            held += fd.readlink().name.startswith("socket:")
    return held


def test_connections_over_the_cap_cannot_be_held_open_by_sending_little(served: Served) -> None:
    # Past the cap, a connection that sends nothing or half a header used to be held for the
    # whole header timeout (300 such connections: 304 sockets held against a cap of 20).
    held: list[socket.socket] = []
    slow: list[socket.socket] = []
    try:
        fill_the_cap(served, held)
        baseline = sockets_held(served.pid)
        for index in range(60):
            sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
            slow.append(sock)
            if index % 2:
                sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Half: aaaa")
        started = time.monotonic()
        half = [sock for index, sock in enumerate(slow) if index % 2]
        # Told 503 (not the 408 of the header timeout) in the envelope of the path begun.
        for sock in half:
            reply = read_reply(sock)
            assert reply.status == 503 and reply.code() == "too_many_connections"
        told_s = time.monotonic() - started
        assert all(closed_by_peer(sock, timeout=5) for sock in slow)
        closed_s = time.monotonic() - started
        deadline = time.monotonic() + 2
        while sockets_held(served.pid) > baseline and time.monotonic() < deadline:
            time.sleep(0.05)
        print(f"\n60 over the cap: 503 by {told_s:.2f} s, all closed by {closed_s:.2f} s")
        assert sockets_held(served.pid) <= baseline
        assert told_s < HEADER_TIMEOUT_S + SLACK_S
    finally:
        for sock in held + slow:
            sock.close()
