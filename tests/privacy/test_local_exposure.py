"""What other users of the gateway's machine can reach, with `routeplex serve` run as a real
process: the simulator it starts keeps no request bodies and listens on loopback only; the
data directory and the SQLite files (database, WAL, shared memory) are the service user's
alone, and an existing directory open to others is said at start-up, in one log line.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.serve import ROUTEPLEX, demo_key, launch
from tests.support.servers import free_port


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    """The common default, so that what is private is so because the gateway made it so."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def simulated_env(data_dir: Path, port: int) -> dict[str, str]:
    """No provider credentials: `serve` starts its simulator."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "GEMINI_", "ROUTEPLEX_"))
    }
    env.update({"ROUTEPLEX_PORT": str(port), "ROUTEPLEX_DATA_DIR": str(data_dir)})
    return env


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    rest, _ = process.communicate(timeout=30)
    return rest or ""


def chat(url: str, key: str, content: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def listening_addresses(port: int) -> set[str]:
    """The local addresses a TCP socket listens on at `port` (from /proc/net/tcp{,6})."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(address)
    return found


# 127.0.0.1 as /proc/net/tcp writes it (little-endian hex), and ::1 in /proc/net/tcp6.
LOOPBACK = {"0100007F", "00000000000000000000000001000000"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_simulator_serve_starts_keeps_no_bodies_and_listens_on_loopback(
    tmp_path: Path,
) -> None:
    port = free_port()
    process, output = launch([], simulated_env(tmp_path / "data", port))
    try:
        found = re.search(r"upstream simulator \((http://127\.0\.0\.1:(\d+))\)", output)
        assert found, output
        simulator, simulator_port = found.group(1), int(found.group(2))
        url = f"http://127.0.0.1:{port}"
        canary = f"canary-{os.getpid()}-{time.monotonic_ns()}"
        answer = chat(url, demo_key(output), canary)
        assert answer.status_code == 200, answer.text

        # No request log at all: nothing to read, nothing kept.
        assert httpx.get(f"{simulator}/_simulator/requests").status_code == 404
        assert httpx.delete(f"{simulator}/_simulator/requests").status_code == 404
        # Its control API is there, for the operator on this host only.
        addresses = listening_addresses(simulator_port)
        assert addresses and addresses <= LOOPBACK, addresses
        fault = {"model": "gpt-4o-mini", "status": 400, "count": 1}
        assert httpx.post(f"{simulator}/_simulator/faults", json=fault).status_code == 201
        assert chat(url, demo_key(output), "hello").status_code == 400
    finally:
        output += stop(process)
    assert canary not in output


def test_a_new_data_directory_and_its_database_files_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    process, output = launch([], simulated_env(data_dir, port))
    try:
        assert chat(f"http://127.0.0.1:{port}", demo_key(output), "hello").status_code == 200
        files = {p.name: mode(p) for p in data_dir.iterdir()}
        # While it runs, SQLite holds the write-ahead log and its shared-memory index too.
        assert {"routeplex.db", "routeplex.db-wal", "routeplex.db-shm"} <= set(files), files
        assert mode(data_dir) == 0o700
        assert files == dict.fromkeys(files, 0o600), files
    finally:
        output += stop(process)
    assert "readable or writable by other users" not in output, output


def test_an_existing_data_directory_open_to_others_is_warned_about(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    process, output = launch([], simulated_env(data_dir, free_port()))
    output += stop(process)
    warnings = [
        json.loads(line)
        for line in output.splitlines()
        if line.startswith("{") and "other users" in line
    ]
    assert len(warnings) == 1, output
    [warning] = warnings
    assert warning["level"] == "warning"
    assert warning["data_dir"] == str(data_dir.resolve())
    assert warning["mode"] == "0755"
    assert mode(data_dir) == 0o755  # said, not changed behind the operator's back
    assert mode(data_dir / "routeplex.db") == 0o600


def test_the_standalone_simulator_says_it_keeps_bodies_and_can_be_told_not_to() -> None:
    """`routeplex simulate` is a test tool: its log is on unless `--no-request-log` (which
    is how `serve --workers` starts its simulator)."""
    shown = subprocess.run(
        [ROUTEPLEX, "simulate", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=30,
    )
    assert "test tool" in shown.stdout and "--no-request-log" in shown.stdout, shown.stdout
    port = free_port()
    process = subprocess.Popen(
        [ROUTEPLEX, "simulate", "--port", str(port), "--quiet", "--no-request-log"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/_simulator/requests")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the simulator never answered"
                time.sleep(0.1)
        assert answer.status_code == 404
        assert listening_addresses(port) <= LOOPBACK
    finally:
        process.terminate()
        process.wait(timeout=30)
