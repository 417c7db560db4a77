"""Retention: closed days are billed (once), then metadata past retention is purged — by the
server on its own, and on demand with `routeplex retention run`."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from routeplex_gateway.app import create_app
from routeplex_gateway.metering.record import Endpoint, RequestMetadata, RoutingMode
from routeplex_gateway.metering.retention import run_retention
from routeplex_gateway.storage import Store
from tests.conftest import gateway_settings
from tests.support.servers import serve_in_thread
from tests.test_cli import ROUTEPLEX


def record(request_id: str, when: datetime, tokens: int = 10) -> RequestMetadata:
    return RequestMetadata(
        request_id=request_id,
        created_at=when,
        account_id="acc_1",
        key_id="key_1",
        endpoint=Endpoint.OPENAI_CHAT,
        routing_mode=RoutingMode.MANUAL,
        strategy=None,
        requested_model="gpt-4o-mini",
        served_model="gpt-4o-mini",
        provider="openai",
        attempts=1,
        fallback_used=False,
        input_tokens=tokens,
        output_tokens=tokens,
        cache_read_tokens=0,
        cache_write_tokens=None,
        reasoning_tokens=0,
        cost_picousd=1000,
        latency_ms=5,
        ttfb_ms=None,
        http_status=200,
        error_code=None,
    )


async def seeded_store(path: Path) -> Store:
    store = await Store.open(f"sqlite:///{path}")
    await store.migrate()
    now = datetime.now(UTC)
    await store.insert_metadata(
        [
            record("req_old", now - timedelta(days=100)),
            record("req_recent", now - timedelta(days=3)),
            record("req_today", now),
        ]
    )
    return store


async def test_bill_then_purge(tmp_path: Path) -> None:
    store = await seeded_store(tmp_path / "r.db")
    try:
        report = await run_retention(store, retention_days=90, grace=timedelta(hours=1))
        assert report.billed_days == 2 and report.purged_rows == 1
        since = (datetime.now(UTC) - timedelta(days=120)).date()
        billed = await store.billing(account_id="acc_1", since=since)
        assert len(billed) == 2 and all(row.requests == 1 for row in billed)
        # Usage older than the metadata retention still comes from the billing records.
        usage = await store.usage_by_day(account_id="acc_1", since=since)
        assert sum(row.requests for row in usage) == 3
        again = await run_retention(store, retention_days=90, grace=timedelta(hours=1))
        assert (again.billed_days, again.purged_rows) == (0, 0)
        assert len(await store.billing(account_id="acc_1", since=since)) == 2
    finally:
        await store.close()


def test_the_server_runs_retention_by_itself(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    store = asyncio.run(seeded_store(data / "routeplex.db"))
    asyncio.run(store.close())
    settings = gateway_settings(data, retention_interval_s=0.2)
    with serve_in_thread(create_app(settings)):
        import sqlite3
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with sqlite3.connect(data / "routeplex.db") as db:
                billed = db.execute("SELECT count(*) FROM billing_daily").fetchone()[0]
                old = db.execute(
                    "SELECT count(*) FROM request_metadata WHERE request_id = 'req_old'"
                ).fetchone()[0]
            if billed == 2 and old == 0:
                break
            time.sleep(0.1)
        assert (billed, old) == (2, 0)


def test_retention_run_command(tmp_path: Path) -> None:
    store = asyncio.run(seeded_store(tmp_path / "routeplex.db"))
    asyncio.run(store.close())
    result = subprocess.run(
        [ROUTEPLEX, "retention", "run"],
        capture_output=True,
        text=True,
        env={"ROUTEPLEX_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Billed 2 closed day(s)" in result.stdout and "purged 1" in result.stdout
