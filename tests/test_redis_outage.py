"""Redis goes away: requests are refused with a clear, retryable 503 in each dialect's
envelope — caps that cannot be checked are not waived — and served again once it is back."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from routeplex_gateway.app import create_app
from tests.conftest import gateway_settings
from tests.support.accounts import create_account_with_key
from tests.support.servers import serve_in_thread
from tests.support.services import require_redis
from tests.support.tcp_proxy import tcp_proxy

BODY = {"model": "gpt-4o-mini", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


def _both(url: str, key: str) -> tuple[httpx.Response, httpx.Response]:
    headers = {"Authorization": f"Bearer {key}"}
    return (
        httpx.post(f"{url}/v1/chat/completions", json=BODY, headers=headers, timeout=20),
        httpx.post(f"{url}/api/v1/chat", json=BODY, headers=headers, timeout=20),
    )


def test_requests_are_refused_while_redis_is_down(tmp_path: Path, simulator_url: str) -> None:
    redis_url = require_redis()
    with tcp_proxy(6379) as proxy:
        via_proxy = redis_url.replace("127.0.0.1:6379", f"127.0.0.1:{proxy.port}")
        settings = gateway_settings(tmp_path, redis_url=via_proxy)
        key = create_account_with_key(settings, "redis-outage")
        with serve_in_thread(create_app(settings, simulator_url=simulator_url)) as url:
            assert [r.status_code for r in _both(url, key)] == [200, 200]

            proxy.cut()
            openai_style, native_style = _both(url, key)
            for response in (openai_style, native_style):
                assert response.status_code == 503, response.text
                assert response.json()["error"]["code"] == "provider_unavailable"
                assert "limits store" in response.json()["error"]["message"]
                assert int(response.headers["retry-after"]) >= 1
            assert native_style.json()["success"] is False
            # Pages that read today's counters say the same, not 500.
            account = httpx.get(
                f"{url}/api/v1/account", headers={"Authorization": f"Bearer {key}"}, timeout=20
            )
            assert account.status_code == 503, account.text
            assert account.json()["error"]["code"] == "provider_unavailable"

            proxy.restore()
            deadline = time.monotonic() + 10
            while [r.status_code for r in _both(url, key)] != [200, 200]:
                assert time.monotonic() < deadline, "not served again after Redis came back"
                time.sleep(0.2)
