"""The gateway's own time, published so users can check the performance claim in production:
`X-RoutePlex-Overhead-Ms` on every chat response and the `routeplex_gateway_overhead_ms`
histogram on `/metrics` — both excluding the time spent waiting on the provider."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import RunningGateway

BODY = {"model": "gpt-4o-mini", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
PATHS = ["/v1/chat/completions", "/api/v1/chat"]


def _post(gateway: RunningGateway, path: str, **extra: object) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}{path}",
        json={**BODY, **extra},
        headers={"Authorization": f"Bearer {gateway.keys['alice']}"},
        timeout=20,
    )


def _histogram(gateway: RunningGateway, endpoint: str) -> tuple[float, float]:
    text = httpx.get(f"{gateway.url}/metrics").text
    found = {}
    for name in ("count", "sum"):
        match = re.search(
            rf'^routeplex_gateway_overhead_ms_{name}{{endpoint="{endpoint}"}} (\S+)$', text, re.M
        )
        found[name] = float(match.group(1)) if match else 0.0
    return found["count"], found["sum"]


@pytest.mark.parametrize("path", PATHS)
def test_waiting_on_the_provider_is_not_overhead(gateway: RunningGateway, path: str) -> None:
    endpoint = "openai.chat_completions" if path.startswith("/v1") else "native.chat"
    count_before, sum_before = _histogram(gateway, endpoint)
    httpx.post(
        f"{gateway.simulator_url}/_simulator/faults",
        json={"model": "gpt-4o-mini", "latency_ms": 400, "count": 1},
    )
    slow = _post(gateway, path)
    assert slow.status_code == 200
    overhead = float(slow.headers["x-routeplex-overhead-ms"])
    assert 0 < overhead < 150  # the 400 ms the provider took are not the gateway's
    count_after, sum_after = _histogram(gateway, endpoint)
    assert count_after == count_before + 1
    assert 0 < sum_after - sum_before < 150


@pytest.mark.parametrize("path", PATHS)
def test_streams_and_errors_carry_the_header_too(gateway: RunningGateway, path: str) -> None:
    httpx.post(
        f"{gateway.simulator_url}/_simulator/faults",
        json={"model": "gpt-4o-mini", "latency_ms": 400, "count": 1},
    )
    streamed = _post(gateway, path, stream=True)
    assert streamed.status_code == 200
    # Measured, not clamped to zero, and without the 400 ms the provider took to start.
    assert 0 < float(streamed.headers["x-routeplex-overhead-ms"]) < 150
    refused = _post(gateway, path, model="no-such-model")
    assert refused.status_code == 400
    assert 0 < float(refused.headers["x-routeplex-overhead-ms"]) < 150
    assert refused.headers["x-request-id"].startswith("req_")
