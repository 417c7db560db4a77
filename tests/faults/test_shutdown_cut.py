"""A stream still running when the shutdown grace (ROUTEPLEX_SHUTDOWN_GRACE_S) runs out ends
with an error event saying so — `provider_unavailable`, the gateway is shutting down — and
`[DONE]` before the connection closes, and its row says 503 `provider_unavailable`."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from tests.support.serve import launch
from tests.support.servers import free_port
from tests.test_replicas import account

GRACE_S = 1


def test_streams_cut_at_the_end_of_the_grace_say_so(tmp_path: Path, simulator_url: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEPLEX_")}
    env.update(
        {
            "ROUTEPLEX_DATA_DIR": str(tmp_path),
            "ROUTEPLEX_PORT": str(port),
            "ROUTEPLEX_SHUTDOWN_GRACE_S": str(GRACE_S),
            "OPENAI_API_KEY": "sk-x",
            "OPENAI_BASE_URL": f"{simulator_url}/v1",
        }
    )
    # Both streams stall after a few chunks: neither can finish within the grace.
    httpx.post(
        f"{simulator_url}/_simulator/faults",
        json={"model": "gpt-4o-mini", "stall_after_chunks": 3, "count": 2},
    )
    key = account(env, "streams", {"concurrency": 5})
    process, _ = launch([], env)
    url = f"http://127.0.0.1:{port}"
    streams = {"/v1/chat/completions": {}, "/api/v1/chat": {"stream_mode": "realtime"}}
    lines: dict[str, list[str]] = {path: [] for path in streams}
    ids: dict[str, str] = {}
    started = threading.Barrier(len(streams) + 1, timeout=30)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/health")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)

        def read(path: str) -> None:
            body = {
                "model": "gpt-4o-mini",
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
                **streams[path],
            }
            with httpx.stream(
                "POST",
                f"{url}{path}",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            ) as response:
                ids[path] = response.headers["x-request-id"]
                received = response.iter_lines()
                lines[path].append(next(received))
                started.wait()
                lines[path] += [line for line in received if line]

        readers = [threading.Thread(target=read, args=(path,)) for path in streams]
        for reader in readers:
            reader.start()
        started.wait()
        process.send_signal(signal.SIGTERM)
        for reader in readers:
            reader.join(timeout=30)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    for path, received in lines.items():
        assert received[-1] == "data: [DONE]", (path, received)
        event = json.loads(received[-2].removeprefix("data: "))
        error = event["error"] if path.startswith("/v1") else event
        assert error["code"] == "provider_unavailable", event
        assert "shutting down" in error["message"]
    with sqlite3.connect(tmp_path / "routeplex.db") as db:
        rows = dict(
            (row[0], row[1:])
            for row in db.execute(
                "SELECT request_id, http_status, error_code, usage_estimated FROM request_metadata"
            )
        )
    assert {rows[ids[path]] for path in streams} == {(503, "provider_unavailable", 1)}
