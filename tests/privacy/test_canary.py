"""The canary suite: DESIGN.md §1's promise, checked end to end on every run.

A real `routeplex serve` process (its embedded simulator, plus an upstream that quotes the
prompt back, in OpenAI's and in Anthropic's format) gets the traffic of `traffic.py` and
`messages_traffic.py`: every path — success, streams, a client that leaves mid-stream,
upstream 4xx/5xx that quote the prompt, timeouts, fallback, a malformed chunk, rate limits,
bad keys, oversize and invalid bodies, the estimate, account and admin endpoints, the
dashboard, and Anthropic's Messages surface (Claude passed through, GPT translated,
count_tokens, the models listing), OpenAI's Responses surface (`responses_traffic.py`) and
the embeddings surface (its inputs, and the vectors it answered) — each request carrying fresh
canaries. The gateway logs at
DEBUG and has a temp directory of its own. Then every place it could have written is searched,
and not one copy of any canary may be there: its logs (stdout and stderr), `/metrics`, every
file under its data directory (database, WAL and SHM while it runs, the database after it
stopped) and its temp directory (which must stay empty: bodies are never spooled), every row
of every table (SQLite, and PostgreSQL in the second test), every Redis key and value, and
the privacy audit must pass on what is left.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.privacy.stores import (
    Canaries,
    Leak,
    files_under,
    postgres_rows,
    redis_entries,
    sqlite_rows,
)
from tests.privacy.traffic import Target, Traffic
from tests.privacy.upstream import create_echo_upstream
from tests.support.servers import free_port, serve_in_thread
from tests.support.services import fresh_postgres_database, require_redis
from tests.test_cli import ROUTEPLEX

ECHO_MODELS = ["echo", "bad-request", "server-error", "malformed", "slow", "hang"]


@dataclass
class Gateway:
    env: dict[str, str]
    url: str
    simulator_url: str
    data_dir: Path
    tmp_dir: Path
    logs: list[Path]
    metrics: str = ""
    # Every file under the data and temp directories while the gateway still ran (SQLite's
    # WAL and SHM exist only then), by path.
    live_files: dict[str, bytes] = field(default_factory=dict)


def _provision(env: dict[str, str]) -> tuple[str, str, str, str, str]:
    """Keys for a `usage` account (one of them allowed two simulated models only, so which
    model `routeplex-ai` falls back to never depends on the catalog), an `evaluation`
    account, an admin key, and an `unlimited` account for the Messages traffic (the `usage`
    plan's 30 a minute are the other traffic's) — made in process (the CLI is tested
    elsewhere; more process starts would double this test's time)."""
    from routeplex_gateway.auth import issue_admin_key, issue_key
    from routeplex_gateway.config import Settings
    from routeplex_gateway.storage import Store

    settings = Settings(
        data_dir=Path(env["ROUTEPLEX_DATA_DIR"]), database_url=env.get("ROUTEPLEX_DATABASE_URL")
    )

    async def provision() -> tuple[str, str, str, str, str]:
        store = await Store.open(settings.resolved_database_url)
        try:
            await store.migrate()
            alice = await store.create_account("alice", plan="usage")
            trial = await store.create_account("trial", plan="evaluation")
            key, _ = await issue_key(store, alice.id)
            two_models = ["gpt-4o-mini", "gpt-4.1-mini"]
            fallback_key, _ = await issue_key(store, alice.id, allowed_models=two_models)
            trial_key, _ = await issue_key(store, trial.id)
            admin, _ = await issue_admin_key(store, name="canary")
            agent = await store.create_account("claude-code", plan="unlimited")
            messages_key, _ = await issue_key(store, agent.id)
            return key, fallback_key, trial_key, admin, messages_key
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as pool:  # pytest-asyncio may own this thread's loop
        return pool.submit(asyncio.run, provision()).result()


def _environment(root: Path, echo_url: str, **extra: str) -> dict[str, str]:
    """The gateway's environment: DEBUG logs, its own temp dir, small limits, the echo
    provider next to the embedded simulator; nothing inherited from ROUTEPLEX_* or providers."""
    config = root / "routeplex.toml"
    config.write_text(
        "[[providers]]\n"
        'name = "echo"\nkind = "openai"\n'
        f'base_url = "{echo_url}/v1"\napi_key = "sk-echo"\n'
        f"models = {json.dumps(ECHO_MODELS)}\ntimeout_s = 1.0\n"
        # The same upstream in Anthropic's format: Messages callers' bodies go to it as sent.
        "[[providers]]\n"
        'name = "claude-echo"\nkind = "anthropic"\n'
        f'base_url = "{echo_url}"\napi_key = "sk-ant-echo"\n'
        f"models = {json.dumps(ECHO_MODELS)}\ntimeout_s = 1.0\n"
    )
    (root / "tmp").mkdir()
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ROUTEPLEX_", "OPENAI_", "ANTHROPIC_", "GEMINI_", "TMP", "TEMP"))
    }
    return {
        **inherited,
        "ROUTEPLEX_CONFIG": str(config),
        "ROUTEPLEX_DATA_DIR": str(root / "data"),
        "ROUTEPLEX_LOG_LEVEL": "debug",
        "ROUTEPLEX_SIMULATE": "true",
        "ROUTEPLEX_SIMULATOR_PORT": str(free_port()),
        "ROUTEPLEX_MAX_BODY_BYTES": "65536",
        "ROUTEPLEX_RECORDER_FLUSH_S": "0.05",
        "TMPDIR": str(root / "tmp"),
        **extra,
    }


@contextmanager
def running_gateway(root: Path, **extra: str) -> Iterator[tuple[Gateway, Target]]:
    """Accounts and keys, then `routeplex serve`; after the caller's traffic, a snapshot of
    the live files, then SIGTERM (queued metadata is flushed) before the caller searches."""
    with serve_in_thread(create_echo_upstream()) as echo_url:
        env = _environment(root, echo_url, **extra)
        env["ROUTEPLEX_PORT"] = str(free_port())
        keys = _provision(env)
        logs = [root / "stdout.log", root / "stderr.log"]
        url = f"http://127.0.0.1:{env['ROUTEPLEX_PORT']}"
        gateway = Gateway(
            env,
            url,
            f"http://127.0.0.1:{env['ROUTEPLEX_SIMULATOR_PORT']}",
            root / "data",
            root / "tmp",
            logs,
        )
        with logs[0].open("wb") as out, logs[1].open("wb") as err:
            process = subprocess.Popen([ROUTEPLEX, "serve"], env=env, stdout=out, stderr=err)
            try:
                _wait_until_up(url, process)
                yield gateway, Target(url, gateway.simulator_url, *keys)
                gateway.metrics = httpx.get(f"{url}/metrics").text
                _wait_for_metadata(url, keys[3])
                for name, root_dir in (
                    ("data dir", gateway.data_dir),
                    ("temp dir", gateway.tmp_dir),
                ):
                    for path in files_under(root_dir):
                        gateway.live_files[f"{name}/{path} (live)"] = (root_dir / path).read_bytes()
            finally:
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=30) == 0, logs[1].read_text()[-2000:]


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "gateway did not start"
        time.sleep(0.1)


def _wait_for_metadata(url: str, admin_key: str) -> None:
    """Until the batched writer has nothing queued, so the live files hold every record."""
    deadline = time.monotonic() + 10
    admin = {"Authorization": f"Bearer {admin_key}"}
    while time.monotonic() < deadline:
        pending: int = httpx.get(f"{url}/ready", headers=admin).json()["metadata_pending"]
        if not pending:
            return
        time.sleep(0.05)


def search_everywhere(gateway: Gateway, canaries: Canaries) -> list[Leak]:
    # The logs were really at DEBUG, and nothing at all was spooled to the temp directory.
    assert '"level":"debug"' in gateway.logs[1].read_text()
    assert files_under(gateway.tmp_dir) == []
    assert not any(where.startswith("temp dir") for where in gateway.live_files)
    leaks: list[Leak] = []
    for where, data in gateway.live_files.items():
        leaks += canaries.search(data, where)
    for log in gateway.logs:
        leaks += canaries.search_lines(log.read_text(errors="replace").splitlines(), log.name)
    leaks += canaries.search_lines(gateway.metrics.splitlines(), "/metrics")
    leaks += canaries.search_files(gateway.data_dir, "data dir")
    leaks += canaries.search_files(gateway.tmp_dir, "temp dir")
    return leaks


def assert_no_leaks(leaks: list[Leak], canaries: Canaries) -> None:
    assert len(canaries.by_label) > 80, "the traffic sent fewer canaries than it should"
    if leaks:
        pytest.fail(
            f"{len(leaks)} canary copies were written down:\n" + "\n".join(map(str, leaks)),
            pytrace=False,
        )


def audit_passes(env: dict[str, str]) -> None:
    """`routeplex privacy-audit` (in process: tests/privacy/test_audit.py runs the command)
    finds nothing that looks like content in what the traffic left behind."""
    from routeplex_gateway.config import Settings
    from routeplex_gateway.privacy import audit

    settings = Settings(
        data_dir=Path(env["ROUTEPLEX_DATA_DIR"]),
        database_url=env.get("ROUTEPLEX_DATABASE_URL"),
        redis_url=env.get("ROUTEPLEX_REDIS_URL"),
    )
    with ThreadPoolExecutor(1) as pool:
        report = pool.submit(asyncio.run, audit(settings)).result()
    assert report.rows > 40 and not report.findings, report.findings


def test_no_canary_is_written_down_sqlite(tmp_path: Path) -> None:
    canaries = Canaries()
    with running_gateway(tmp_path) as (gateway, target):
        Traffic(target, canaries).run()
    leaks = search_everywhere(gateway, canaries)
    for table, row in sqlite_rows(gateway.data_dir / "routeplex.db"):
        leaks += canaries.search(row.encode(), f"sqlite table {table}")
    # The database really holds this traffic's metadata: the search looked at real rows.
    assert (
        sum(
            table == "request_metadata"
            for table, _ in sqlite_rows(gateway.data_dir / "routeplex.db")
        )
        > 40
    )
    assert_no_leaks(leaks, canaries)
    audit_passes(gateway.env)
    assert "routeplex.db" in files_under(gateway.data_dir)


def test_no_canary_is_written_down_postgresql_and_redis(tmp_path: Path) -> None:
    redis_url = require_redis()
    canaries = Canaries()
    with fresh_postgres_database() as database_url:
        extra = {"ROUTEPLEX_DATABASE_URL": database_url, "ROUTEPLEX_REDIS_URL": redis_url}
        with running_gateway(tmp_path, **extra) as (gateway, target):
            Traffic(target, canaries).run()
        leaks = search_everywhere(gateway, canaries)
        rows = postgres_rows(database_url)
        for table, row in rows:
            leaks += canaries.search(row.encode(), f"postgresql table {table}")
        for key, stored in redis_entries(redis_url):
            leaks += canaries.search(stored, f"redis key {key}")
        assert sum(table == "public.request_metadata" for table, _ in rows) > 40
        assert_no_leaks(leaks, canaries)
        audit_passes(gateway.env)


def test_the_searches_find_a_planted_canary(tmp_path: Path) -> None:
    """The control: a canary that is written down — whole, re-cased or truncated — is found
    in a file, a log line, a SQLite row and a Redis value."""
    import sqlite3
    from urllib.parse import urlsplit, urlunsplit

    canaries = Canaries()
    whole, cased, cut = (canaries.new(name) for name in ("whole", "cased", "cut"))
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "spool.bin").write_bytes(b"\x00" + cased.upper().encode())
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute("INSERT INTO t VALUES (?)", (f"prefix {cut[:23]}",))
    found = {leak.label for leak in canaries.search_files(tmp_path, "dir")}
    assert found == {"cased", "cut"}
    rows = sqlite_rows(tmp_path / "db.sqlite")
    assert canaries.search(rows[0][1].encode(), "row")[0].label == "cut"
    assert canaries.search_lines(["ok", f"x {whole}"], "log")[0].where == "log line 2"
    redis_url = urlunsplit(urlsplit(require_redis())._replace(path="/13"))

    async def plant(value: str | None) -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(redis_url)
        try:
            await (
                client.hset("canary-control", "v", value)
                if value
                else client.delete("canary-control")
            )
        finally:
            await client.aclose()

    asyncio.run(plant(whole))
    try:
        entries = dict(redis_entries(redis_url))
    finally:
        asyncio.run(plant(None))
    assert canaries.search(entries["canary-control"], "redis")[0].label == "whole"
