"""The `routeplex` command, run as a user would: a real process, real output."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import openai

from routeplex_gateway.api.account import SURFACE_NAMES
from routeplex_gateway.metering.record import Endpoint
from routeplex_gateway.storage import Store
from tests.storage.builders import metadata_record, unanswered_record
from tests.support.servers import free_port

ROUTEPLEX = str(Path(sys.executable).with_name("routeplex"))


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROUTEPLEX, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "ROUTEPLEX_DATA_DIR": str(data_dir), "COLUMNS": "200", **env},
    )


def test_accounts_keys_and_usage_commands(tmp_path: Path) -> None:
    created = run(["accounts", "create", "acme", "--plan", "usage", "--json"], tmp_path)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["plan"] == "usage"
    duplicate = run(["accounts", "create", "acme"], tmp_path)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr

    made = run(
        ["keys", "create", "--account", "acme", "--name", "ci", "--expires-in", "30", "--json"],
        tmp_path,
    )
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    assert key["key"].startswith("rp_live_") and key["expires_at"]

    listed = json.loads(run(["keys", "list", "--account", "acme", "--json"], tmp_path).stdout)
    assert listed[0]["id"] == key["id"] and listed[0]["status"] == "active"
    assert listed[0]["key"] == f"{key['key'][:12]}…{key['key'][-4:]}"
    assert key["key"] not in json.dumps(listed)

    assert run(["keys", "revoke", key["id"]], tmp_path).returncode == 0
    again = json.loads(run(["keys", "list", "--account", "acme", "--json"], tmp_path).stdout)
    assert again[0]["status"] == "revoked"
    assert run(["keys", "revoke", key["id"]], tmp_path).returncode == 1

    usage = run(["usage", "--account", "acme", "--days", "7", "--json"], tmp_path)
    assert usage.returncode == 0 and json.loads(usage.stdout) == []
    assert run(["keys", "list", "--account", "nobody"], tmp_path).returncode == 1


def test_serve_first_run_prints_a_working_key_and_examples(tmp_path: Path) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "GEMINI_"))
    }
    env.update(
        {
            "ROUTEPLEX_DATA_DIR": str(tmp_path),
            "ROUTEPLEX_PORT": str(port),
            "COLUMNS": "200",
            "ROUTEPLEX_RECORDER_FLUSH_S": "0.05",
        }
    )
    process = subprocess.Popen(
        [ROUTEPLEX, "serve"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    output = ""
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        while "print(reply" not in output and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output += line
        assert "SIMULATED" in output
        key = re.search(r"rp_live_[A-Za-z0-9_-]{40,}", output)
        assert key, output
        assert f"curl http://127.0.0.1:{port}/v1/chat/completions" in output
        assert "from openai import OpenAI" in output
        assert re.search(r"rp_admin_[A-Za-z0-9_-]{40,}", output)  # the operator's key, once
        assert f"http://127.0.0.1:{port}/app" in output
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=key.group(0), max_retries=0)
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello!"}]
        )
        assert reply.choices[0].message.content
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=30)
        output += rest or ""
    assert process.returncode == 0, output
    # Shutdown flushed the request's metadata; the usage command sees it.
    usage = run(["usage", "--account", "demo", "--json"], tmp_path)
    assert json.loads(usage.stdout)[0]["requests"] == 1

    # A second start does not mint another key.
    process = subprocess.Popen(
        [ROUTEPLEX, "serve"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    second = ""
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        while "keys create" not in second and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            second += line
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=30)
        second += rest or ""
    assert "rp_live_" not in second and "keys create" in second


def test_serve_flags_win_over_the_environment(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ROUTEPLEX_", "OPENAI_"))},
        # Each would make the gateway unreachable below, or put its database elsewhere.
        "ROUTEPLEX_HOST": "127.0.0.2",
        "ROUTEPLEX_PORT": str(free_port()),
        "ROUTEPLEX_DATA_DIR": str(tmp_path / "from-env"),
    }
    flags = ["--host", "127.0.0.1", "--port", str(port), "--data-dir", str(tmp_path / "flag")]
    process = subprocess.Popen(
        [ROUTEPLEX, "serve", *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health")
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert health.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert (tmp_path / "flag" / "routeplex.db").exists()
    assert not (tmp_path / "from-env").exists()


def test_workers_without_redis_is_refused(tmp_path: Path) -> None:
    result = run(["serve", "--workers", "2"], tmp_path)
    assert result.returncode == 2 and "ROUTEPLEX_REDIS_URL" in result.stderr


def test_simulate_help_names_every_format_it_serves(tmp_path: Path) -> None:
    help_text = " ".join(run(["simulate", "--help"], tmp_path).stdout.split())
    for wire_format in ("OpenAI Chat Completions", "Anthropic Messages", "Gemini generateContent"):
        assert wire_format in help_text, help_text


def test_simulate_command_serves_the_openai_format(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [ROUTEPLEX, "simulate", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-x", max_retries=0
        )
        for _ in range(100):
            try:
                reply = client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
                )
                break
            except openai.APIConnectionError:
                time.sleep(0.1)
        assert reply.choices[0].message.content and reply.usage is not None
        fault = httpx.post(
            f"http://127.0.0.1:{port}/_simulator/faults",
            json={"model": "gpt-4o", "status": 500, "count": 1},
        )
        assert fault.status_code < 300
        try:
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
            raise AssertionError("the fault was not injected")
        except openai.InternalServerError:
            pass
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_usage_table(tmp_path: Path) -> None:
    assert run(["accounts", "create", "t"], tmp_path).returncode == 0
    table = run(["usage", "--days", "3"], tmp_path)
    assert table.returncode == 0 and "requests" in table.stdout and "cost" in table.stdout


def test_usage_shows_embedding_requests_as_their_model(tmp_path: Path) -> None:
    """An embeddings request is a row of its model: input tokens, no output, exact cost."""
    account_id = json.loads(run(["accounts", "create", "rag", "--json"], tmp_path).stdout)["id"]
    day = datetime.now(UTC)

    async def record_usage() -> None:
        store = await Store.open(f"sqlite:///{tmp_path / 'routeplex.db'}")
        await store.insert_metadata(
            [
                metadata_record(
                    account_id=account_id,
                    created_at=day,
                    endpoint=Endpoint.OPENAI_EMBEDDINGS,
                    requested_model="text-embedding-3-small",
                    served_model="text-embedding-3-small",
                    input_tokens=64,
                    output_tokens=0,
                    cost_picousd=64 * 20_000,  # $0.02 a million tokens
                )
            ]
        )
        await store.close()

    asyncio.run(record_usage())
    rows = json.loads(run(["usage", "--json"], tmp_path).stdout)
    (row,) = [r for r in rows if r["model"] == "text-embedding-3-small"]
    assert (row["requests"], row["input_tokens"], row["output_tokens"]) == (1, 64, 0)
    assert row["cost_usd"] == "0.00000128"
    table = run(["usage"], tmp_path).stdout
    assert re.search(rf"{day.date().isoformat()} .* text-embedding-3-small ", table), table


def test_tables_piped_at_80_columns_keep_every_cell_whole(tmp_path: Path) -> None:
    """Ids are copied into `keys revoke`, days and models grepped: none may be cut short."""
    account = "a-customer-with-a-long-name-" + "x" * 40

    def piped(*args: str) -> str:
        result = run(list(args), tmp_path, COLUMNS="80")
        assert result.returncode == 0, result.stderr
        return result.stdout

    account_id = json.loads(piped("accounts", "create", account, "--json"))["id"]
    key_id = json.loads(
        piped("keys", "create", "--account", account, "--name", "ci " * 20, "--json")
    )["id"]
    admin_id = json.loads(piped("admin", "create-key", "--name", "ops " * 20, "--json"))["id"]
    model = "anthropic/claude-3-5-sonnet-20241022"

    async def record_usage() -> None:
        store = await Store.open(f"sqlite:///{tmp_path / 'routeplex.db'}")
        record = metadata_record(
            account_id=account_id, key_id=key_id, served_model=model, created_at=datetime.now(UTC)
        )
        await store.insert_metadata([record])
        await store.close()

    asyncio.run(record_usage())
    assert account_id in piped("accounts", "list") and account in piped("accounts", "list")
    assert key_id in piped("keys", "list", "--account", account)
    assert admin_id in piped("admin", "list-keys")
    usage = piped("usage")
    day = datetime.now(UTC).date().isoformat()
    assert re.search(rf"{day} .* {model} ", usage), usage  # one row, one line
    assert "…" not in usage


def test_serve_uses_openai_credentials_when_set(tmp_path: Path, simulator_url: str) -> None:
    """With OPENAI_API_KEY / OPENAI_BASE_URL set, no simulator starts: requests go there."""
    port = free_port()
    env = {
        **os.environ,
        "ROUTEPLEX_DATA_DIR": str(tmp_path),
        "ROUTEPLEX_PORT": str(port),
        "OPENAI_API_KEY": "sk-from-env",
        "OPENAI_BASE_URL": f"{simulator_url}/v1",
    }
    process = subprocess.Popen(
        [ROUTEPLEX, "serve"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    output = ""
    try:
        assert process.stdout is not None
        while "print(reply" not in output:
            line = process.stdout.readline()
            if not line:
                break
            output += line
        key = re.search(r"rp_live_[A-Za-z0-9_-]{40,}", output)
        assert key and "SIMULATED" not in output
        httpx.delete(f"{simulator_url}/_simulator/requests")
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key=key.group(0), max_retries=0
        )
        for _ in range(100):
            try:
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
                )
                break
            except openai.APIConnectionError:
                time.sleep(0.1)
        seen = httpx.get(f"{simulator_url}/_simulator/requests").json()
        entries = seen["requests"] if isinstance(seen, dict) else seen
        assert len(entries) == 1 and entries[0]["auth_header"]
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_admin_key_commands(tmp_path: Path) -> None:
    made = json.loads(run(["admin", "create-key", "--name", "ops", "--json"], tmp_path).stdout)
    assert made["key"].startswith("rp_admin_")
    listed = json.loads(run(["admin", "list-keys", "--json"], tmp_path).stdout)
    assert listed[0]["id"] == made["id"] and made["key"] not in json.dumps(listed)
    assert run(["admin", "revoke-key", made["id"]], tmp_path).returncode == 0
    assert json.loads(run(["admin", "list-keys", "--json"], tmp_path).stdout)[0]["revoked"]


def test_accounts_update_command(tmp_path: Path) -> None:
    assert run(["accounts", "create", "acme"], tmp_path).returncode == 0
    updated = run(
        ["accounts", "update", "acme", "--plan", "usage", "--limits", '{"rpm": 60}', "--disable"],
        tmp_path,
    )
    assert updated.returncode == 0, updated.stderr
    assert "plan usage" in updated.stdout and '"rpm": 60' in updated.stdout
    assert "disabled" in updated.stdout
    assert run(["accounts", "update", "acme", "--plan", "gold"], tmp_path).returncode == 1
    assert run(["accounts", "update", "acme", "--limits", '{"rpm": -1}'], tmp_path).returncode == 1


def test_accounts_create_refuses_a_name_the_api_refuses(tmp_path: Path) -> None:
    for name in ("", "x" * 300):
        refused = run(["accounts", "create", name], tmp_path, COLUMNS="30")
        assert refused.returncode == 1
        assert refused.stderr == "The account name must be 1 to 100 characters.\n"
    assert json.loads(run(["accounts", "list", "--json"], tmp_path).stdout) == []


def test_accounts_create_refuses_an_unknown_plan(tmp_path: Path) -> None:
    refused = run(["accounts", "create", "acme", "--plan", "gold"], tmp_path, COLUMNS="30")
    assert refused.returncode == 1
    assert refused.stderr == "Unknown plan 'gold'; known: evaluation, usage, unlimited.\n"
    assert "Traceback" not in refused.stderr
    assert json.loads(run(["accounts", "list", "--json"], tmp_path).stdout) == []
    # A plan the config file defines is known.
    (tmp_path / "routeplex.toml").write_text("[plans.gold]\nrpm = 600\n")
    config = ["--config", str(tmp_path / "routeplex.toml")]
    created = run(["accounts", "create", "acme", "--plan", "gold", "--json", *config], tmp_path)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["plan"] == "gold"


def test_usage_by_surface(tmp_path: Path) -> None:
    """`usage --by surface`: every surface under the name the usage API and the dashboard
    give it, in their order, counted as they count it (refused and unpriced apart)."""
    ids = {
        name: json.loads(run(["accounts", "create", name, "--json"], tmp_path).stdout)["id"]
        for name in ("alice", "bob")
    }
    now = datetime.now(UTC)

    async def record_usage() -> None:
        store = await Store.open(f"sqlite:///{tmp_path / 'routeplex.db'}")
        alice = {"account_id": ids["alice"], "created_at": now}
        await store.insert_metadata(
            [
                metadata_record(
                    **alice, endpoint=Endpoint.OPENAI_RESPONSES, cost_picousd=7_500_000
                ),
                metadata_record(
                    **alice,
                    endpoint=Endpoint.OPENAI_RESPONSES,
                    input_tokens=5,
                    output_tokens=1,
                    cost_picousd=None,  # answered without a known price
                ),
                unanswered_record(
                    **alice, endpoint=Endpoint.OPENAI_RESPONSES, attempts=0, http_status=429
                ),
                metadata_record(
                    **alice,
                    endpoint=Endpoint.ANTHROPIC_MESSAGES,
                    served_model="claude-sonnet-4-20250514",
                    input_tokens=300,
                    output_tokens=40,
                    cost_picousd=1_234_567,
                ),
                metadata_record(account_id=ids["bob"], created_at=now),  # OpenAI chat
            ]
        )
        await store.close()

    asyncio.run(record_usage())
    done = run(["usage", "--by", "surface", "--account", "alice", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [(r["surface"], r["endpoint"]) for r in rows] == [
        (name, endpoint.value) for endpoint, name in SURFACE_NAMES.items()
    ]
    by_endpoint = {r["endpoint"]: r for r in rows}
    responses = by_endpoint[Endpoint.OPENAI_RESPONSES]
    assert responses["surface"] == "OpenAI Responses"
    counts = ("requests", "refused_requests", "unknown_cost_requests")
    assert [responses[c] for c in counts] == [3, 1, 1]
    assert (responses["input_tokens"], responses["output_tokens"]) == (105, 21)
    assert responses["cost_usd"] == "0.0000075"  # exact dollars, as `usage --json` gives
    messages = by_endpoint[Endpoint.ANTHROPIC_MESSAGES]
    assert (messages["requests"], messages["cost_usd"]) == (1, "0.000001234567")
    # bob's request is not alice's; with no --account, it is counted.
    assert by_endpoint[Endpoint.OPENAI_CHAT]["requests"] == 0
    everyone = json.loads(run(["usage", "--by", "surface", "--json"], tmp_path).stdout)
    assert [r["requests"] for r in everyone if r["endpoint"] == Endpoint.OPENAI_CHAT] == [1]

    table = run(["usage", "--by", "surface", "--account", "alice"], tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    (responses_line,) = [line for line in lines if "OpenAI Responses" in line]
    assert re.search(r"openai\.responses .* 3 .* 1 .* 105 .* 21 .*\(\+1 unpriced\)", responses_line)
    for name in SURFACE_NAMES.values():  # every surface, even one no request came in by
        assert any(name in line for line in lines), (name, table.stdout)
    assert "kept 90 days" in table.stdout
    longer = run(["usage", "--by", "surface", "--days", "400"], tmp_path).stdout
    assert "not the whole period" in longer


def test_usage_refuses_an_unknown_view(tmp_path: Path) -> None:
    refused = run(["usage", "--by", "week"], tmp_path)
    assert refused.returncode == 2 and "day" in refused.stderr and "surface" in refused.stderr
