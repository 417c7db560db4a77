"""The background loops — key refresh, metadata writer, retention — survive an unexpected
error: it is logged by its type only, the loop restarts after a backoff, and `/ready` names
the failing loop until it works again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from routeplex_gateway import auth, signouts
from routeplex_gateway.app import create_app
from routeplex_gateway.logs import AllowListFormatter
from routeplex_gateway.metering import retention
from routeplex_gateway.storage import Store
from tests.api.test_admin_api import admin_key
from tests.conftest import RunningGateway, gateway_settings
from tests.support.accounts import create_account_with_key
from tests.support.servers import serve_in_thread

SECRET = "canary-from-a-prompt"  # what an exception's message could carry


@pytest.fixture
def gateway(tmp_path: Path, simulator_url: str) -> Iterator[RunningGateway]:
    settings = gateway_settings(tmp_path, retention_interval_s=0.2)
    running = RunningGateway(url="", data_dir=tmp_path, simulator_url=simulator_url)
    running.keys["alice"] = create_account_with_key(settings, "alice")
    with serve_in_thread(create_app(settings, simulator_url=simulator_url)) as url:
        running.url = url
        yield running


def fail_once(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Make `owner.name` raise an unexpected error on its next call; returns the call count."""
    calls = [0]
    original = getattr(owner, name)

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise ValueError(SECRET)
        return await original(*args, **kwargs)

    monkeypatch.setattr(owner, name, flaky)
    return calls


def failing_loops(gw: RunningGateway, admin: str) -> list[str]:
    """The failing loops /ready names to an operator; a failing loop makes it not ready."""
    reply = httpx.get(f"{gw.url}/ready", headers={"Authorization": f"Bearer {admin}"})
    body = reply.json()
    loops: list[str] = body["failing_loops"]
    assert (reply.status_code, body["status"]) == ((503, "not_ready") if loops else (200, "ready"))
    assert ("background_loop_failing" in body["reasons"]) == bool(loops)
    # Liveness stays plain whatever the loops do.
    assert httpx.get(f"{gw.url}/health").json() == {"status": "ok"}
    return loops


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("loop", "owner", "method"),
    [
        ("metadata-writer", Store, "insert_metadata"),
        ("key-refresh", auth.KeyCache, "_reload"),
        ("session-refresh", signouts.SignedOutSessions, "_reload"),
        ("retention", retention, "run_retention"),
    ],
)
def test_a_loop_that_fails_restarts_and_health_says_so(
    gateway: RunningGateway,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    loop: str,
    owner: Any,
    method: str,
) -> None:
    caplog.set_level(logging.INFO)
    admin = admin_key(gateway)
    assert failing_loops(gateway, admin) == []
    calls = fail_once(monkeypatch, owner, method)
    if loop == "metadata-writer":
        reply = httpx.post(
            f"{gateway.url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {gateway.keys['alice']}"},
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert reply.status_code == 200
    wait_for(lambda: failing_loops(gateway, admin) == [loop], f"{loop} should be reported failing")
    # Restarted after a backoff, it works again and stops being reported.
    wait_for(
        lambda: calls[0] >= 2 and failing_loops(gateway, admin) == [], f"{loop} should recover"
    )
    if loop == "metadata-writer":
        assert len(gateway.metadata(expect=1)) == 1  # the record waited, and was written

    failures = [r for r in caplog.records if getattr(r, "loop", None) == loop]
    assert failures and failures[0].levelno == logging.ERROR
    for record in failures:
        line = AllowListFormatter().format(record)
        assert SECRET not in line and SECRET not in record.getMessage()
    assert '"error_type":"ValueError"' in AllowListFormatter().format(failures[0])
    assert not any(SECRET in r.getMessage() for r in caplog.records)
