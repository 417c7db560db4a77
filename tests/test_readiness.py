"""Liveness and readiness: `/health` says only that the process serves; `/ready` says whether
it should be sent traffic — 503 while the database or Redis is unreachable or the process is
shutting down — and why only to an admin key."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from routeplex_gateway.app import create_app
from routeplex_gateway.gateway import Gateway
from tests.conftest import RunningGateway, gateway_settings
from tests.support.accounts import create_account_with_key, create_admin_key
from tests.support.servers import serve_in_thread
from tests.support.services import fresh_postgres_database, require_redis
from tests.support.tcp_proxy import tcp_proxy


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _ready(url: str, admin: str) -> tuple[int, dict[str, Any]]:
    reply = httpx.get(f"{url}/ready", headers=_bearer(admin), timeout=10)
    return reply.status_code, reply.json()


def _until(url: str, admin: str, status: int, reasons: list[str]) -> None:
    deadline = time.monotonic() + 10
    while True:
        seen, body = _ready(url, admin)
        if (seen, body["reasons"]) == (status, reasons):
            return
        assert time.monotonic() < deadline, (status, reasons, seen, body)
        time.sleep(0.1)


def test_health_says_nothing_and_ready_tells_only_an_operator(gateway: RunningGateway) -> None:
    health = httpx.get(f"{gateway.url}/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    public = httpx.get(f"{gateway.url}/ready")
    assert (public.status_code, public.json()) == (200, {"status": "ready"})

    admin = create_admin_key(gateway_settings(gateway.data_dir))
    status, body = _ready(gateway.url, admin)
    assert status == 200
    assert body["status"] == "ready" and body["reasons"] == [] and body["failing_loops"] == []
    assert isinstance(body["pid"], int) and body["simulated"] is True
    assert body["metadata_pending"] == 0

    # A key that is not an admin key is refused, not answered as if absent.
    for key in ("rp_admin_not-a-key", gateway.keys["alice"]):
        refused = httpx.get(f"{gateway.url}/ready", headers=_bearer(key))
        assert refused.status_code == 401, key
        assert refused.json()["error"]["code"] == "invalid_api_key"


def test_ready_is_503_while_a_dependency_is_unreachable(tmp_path: Path, simulator_url: str) -> None:
    redis_url = require_redis()
    with (
        fresh_postgres_database() as database_url,
        tcp_proxy(5432) as database,
        tcp_proxy(6379) as redis,
    ):
        settings = gateway_settings(
            tmp_path,
            database_url=database_url.replace("127.0.0.1:5432", f"127.0.0.1:{database.port}"),
            redis_url=redis_url.replace("127.0.0.1:6379", f"127.0.0.1:{redis.port}"),
        )
        admin = create_admin_key(settings)
        with serve_in_thread(create_app(settings, simulator_url=simulator_url)) as url:
            _until(url, admin, 200, [])
            for proxy, reason in ((database, "database_unreachable"), (redis, "redis_unreachable")):
                proxy.cut()
                _until(url, admin, 503, [reason])
                assert httpx.get(f"{url}/ready").json() == {"status": "not_ready"}
                assert httpx.get(f"{url}/health").status_code == 200  # alive all the same
                proxy.restore()
                _until(url, admin, 200, [])


def test_ready_is_503_once_shutting_down(tmp_path: Path, simulator_url: str) -> None:
    settings = gateway_settings(tmp_path)
    create_account_with_key(settings, "alice")
    admin = create_admin_key(settings)
    app = create_app(settings, simulator_url=simulator_url)
    with serve_in_thread(app) as url:
        gateway: Gateway = app.state.gateway
        assert _ready(url, admin)[0] == 200
        gateway.stopping = True  # as `Gateway.stop` sets it first thing
        status, body = _ready(url, admin)
        assert (status, body["status"], body["reasons"]) == (503, "not_ready", ["shutting_down"])
        gateway.stopping = False
