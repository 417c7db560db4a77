"""What a person sees when they start `routeplex serve`, run as a real process: the banner's
commands written as they can be typed where the gateway was started, and run as printed; the
demo account's plan and caps; the simulator's URL; log lines with their values; "listening"
only once the port is bound; and a port already in use said in one line."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from routeplex_gateway.banner import Commands, program
from routeplex_gateway.config import SHIPPED_PLANS
from tests.support.serve import ROUTEPLEX, demo_key, launch
from tests.support.servers import free_port
from tests.support.services import require_redis

VENV_BIN = Path(sys.executable).parent
# Where a person runs `make serve`: the directory that holds the virtualenv (`.venv`).
HERE = VENV_BIN.parent.parent
TYPED = str(Path(ROUTEPLEX).absolute().relative_to(HERE))  # `.venv/bin/routeplex` in a checkout


def newcomer_env(data_dir: Path | None, port: int) -> dict[str, str]:
    """No provider credentials, and `routeplex` not on PATH (the virtualenv not activated)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "GEMINI_", "ROUTEPLEX_"))
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p) != VENV_BIN
    )
    env.update({"ROUTEPLEX_PORT": str(port), "COLUMNS": "200"})
    if data_dir is not None:
        env["ROUTEPLEX_DATA_DIR"] = str(data_dir)
    return env


def printed(output: str, label: str) -> str:
    """The command printed after `label` on its line."""
    for line in output.splitlines():
        if line.startswith(label):
            return line[len(label) :].strip()
    raise AssertionError(f"no line starting {label!r} in:\n{output}")


def run_as_pasted(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A printed command pasted into the shell that started the gateway, where it stands."""
    return subprocess.run(
        command, shell=True, cwd=HERE, env=env, capture_output=True, text=True, timeout=60
    )


def log_events(output: str) -> list[str]:
    return [json.loads(line)["event"] for line in output.splitlines() if line.startswith("{")]


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    rest, _ = process.communicate(timeout=30)
    return rest or ""


def wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the gateway never became healthy"
        time.sleep(0.1)


def test_first_run_tells_a_newcomer_what_works_from_where_they_stand(tmp_path: Path) -> None:
    port = free_port()
    env = newcomer_env(tmp_path / "data", port)
    url = f"http://127.0.0.1:{port}"
    process, output = launch([], env, cwd=HERE)
    try:
        # "listening" is printed once the port is bound: a connection made at once succeeds.
        assert f"RoutePlex listening on {url}" in output, output
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        key = demo_key(output)

        usage: Any = SHIPPED_PLANS["usage"]
        assert (
            f"The demo account is on the usage plan: {usage.rpm} requests a minute, "
            f"{usage.concurrency} at a time, {usage.tokens_per_day:,} tokens and "
            f"${usage.cost_per_day_usd} a day." in output
        ), output
        simulator = re.search(r"upstream simulator \((http://127\.0\.0\.1:\d+)\)", output)
        assert simulator, output
        wait_healthy(url)

        # The printed Python example and curl command work as printed.
        example = output[output.index("from openai import OpenAI") :]
        example = example[: example.index("print(reply.choices[0].message.content)") + 39]
        answer = subprocess.run(
            [sys.executable, "-c", example], capture_output=True, text=True, timeout=60
        )
        assert answer.returncode == 0 and answer.stdout.strip(), answer.stderr
        sent = 1
        if shutil.which("curl"):
            curl = output[output.index(f"curl {url}") :]
            curl = curl[: curl.index("}]}'") + 4]
            reply = run_as_pasted(curl, env)
            assert json.loads(reply.stdout)["choices"][0]["message"]["content"], reply.stdout
            sent += 1
        # More requests in a minute than `evaluation` allows (5): a person trying things out
        # is not throttled.
        headers = {"Authorization": f"Bearer {key}"}
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        for _ in range(6 - sent):
            response = httpx.post(f"{url}/v1/chat/completions", headers=headers, json=body)
            assert response.status_code == 200, response.text
        # The simulator the banner named is the one that answers: a fault set there shows.
        fault = {"model": "gpt-4o-mini", "status": 400, "count": 1}
        assert httpx.post(f"{simulator.group(1)}/_simulator/faults", json=fault).is_success
        response = httpx.post(f"{url}/v1/chat/completions", headers=headers, json=body)
        assert response.status_code == 400, response.text

        lift = printed(output, "Lift its caps with:")
        assert lift == f"{TYPED} accounts update demo --plan unlimited"
        lifted = run_as_pasted(lift, env)
        assert lifted.returncode == 0 and "plan unlimited" in lifted.stdout, lifted.stderr
    finally:
        output += stop(process)
    assert process.returncode == 0, output

    # Log lines carry the server's own values, not templates; the embedded simulator's
    # lifecycle does not repeat the gateway's.
    events = log_events(output)
    assert events.count(f"Started server process [{process.pid}]") == 1, events
    assert f"Finished server process [{process.pid}]" in events, events
    assert any(e.startswith("Running upgrade  -> 0001") for e in events), events
    assert not [e for e in events if re.search(r"%[sdr]", e)], events

    # A second start, with the data directory given on the command line (not in the
    # environment): the printed command carries it, and works as printed.
    env = newcomer_env(None, port)
    process, output = launch(
        ["--data-dir", str(tmp_path / "data")], env, cwd=HERE, until="create one:"
    )
    try:
        assert "rp_live_" not in output
        assert "The demo account is on the unlimited plan: usage is counted" in output, output
        assert "Lift its caps" not in output
        create = printed(output, "Use its existing key, or create one:")
        assert create == (
            f"ROUTEPLEX_DATA_DIR={tmp_path / 'data'} {TYPED} keys create --account demo"
        )
        created = run_as_pasted(create, env)
        assert created.returncode == 0 and "rp_live_" in created.stdout, created.stderr
    finally:
        stop(process)


def test_commands_name_routeplex_as_it_can_be_typed_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(VENV_BIN))
    assert program() == "routeplex"  # the virtualenv is activated
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.chdir(HERE)
    assert program() == TYPED
    monkeypatch.chdir(tmp_path)  # elsewhere: the whole path
    assert program() == str(Path(ROUTEPLEX).absolute())
    command = Commands("routeplex", config=Path("my gateway.toml"), data_dir=Path("data 2"))
    assert command("accounts list") == (
        "ROUTEPLEX_DATA_DIR='data 2' routeplex accounts list --config 'my gateway.toml'"
    )


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["one-process", "workers"])
def test_a_port_in_use_ends_start_up_with_one_line(tmp_path: Path, workers: list[str]) -> None:
    data_dir = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = newcomer_env(data_dir, port)
        if workers:
            env["ROUTEPLEX_REDIS_URL"] = require_redis()
        result = subprocess.run(
            [ROUTEPLEX, "serve", *workers], env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert result.stderr == f"address 127.0.0.1:{port} is already in use\n"
    assert result.stdout == ""  # no "listening", no key shown
    # Nothing was set up either: the demo key is not minted for a process that cannot serve.
    # (The data directory itself is made, empty, when the settings are checked.)
    assert list(data_dir.iterdir()) == []


def test_the_printed_examples_work_with_only_a_configured_provider(
    tmp_path: Path, simulator_url: str
) -> None:
    """With no OpenAI credentials but an OpenAI-compatible `[[providers]]` entry, the printed
    examples name a model this gateway serves (gpt-4o-mini has no provider here)."""
    port = free_port()
    env = newcomer_env(tmp_path / "data", port)
    config = tmp_path / "routeplex.toml"
    config.write_text(
        '[[providers]]\nname = "local"\nkind = "openai"\n'
        f'base_url = "{simulator_url}/v1"\napi_key = "sk-local"\nmodels = ["gpt-4o"]\n'
    )
    url = f"http://127.0.0.1:{port}"
    process, output = launch(["--config", str(config)], env, cwd=HERE)
    try:
        assert "SIMULATED" not in output, output
        wait_healthy(url)
        example = output[output.index("from openai import OpenAI") :]
        example = example[: example.index("print(reply.choices[0].message.content)") + 39]
        answer = subprocess.run(
            [sys.executable, "-c", example], capture_output=True, text=True, timeout=60
        )
        assert answer.returncode == 0 and answer.stdout.strip(), answer.stderr
    finally:
        stop(process)
