"""Routing end to end through the simulator's faults: fallback, circuit breaking, Retry-After,
never a retry after the first byte, and the debug explanation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from routeplex_gateway.app import create_app
from routeplex_gateway.config import DeploymentConfig, ModelOverride, ProviderConfig
from tests.conftest import RunningGateway, gateway_settings
from tests.support.accounts import create_account_with_key
from tests.support.servers import serve_in_thread

PROMPT = [{"role": "user", "content": "hello! how are you"}]


def ask(
    gw: RunningGateway,
    *,
    stream: bool = False,
    debug: bool = False,
    strategy: str = "cost",
    **extra: object,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {gw.keys['alice']}", "X-RoutePlex-Strategy": strategy}
    if debug:
        headers["X-RoutePlex-Debug"] = "true"
    return httpx.post(
        f"{gw.url}/v1/chat/completions",
        headers=headers,
        timeout=30,
        json={
            "model": "routeplex-ai",
            "messages": PROMPT,
            "stream": stream,
            "max_tokens": 50,
            **extra,
        },
    )


def first_choice(gw: RunningGateway) -> tuple[str, str]:
    """The model auto-routing picks first, and its name at the provider."""
    routing = ask(gw, debug=True).json()["x_routeplex"]["routing"]
    plan = routing["plan"]
    return plan[0]["model"], plan[0]["deployment"].split(":", 1)[1]


def fault(gw: RunningGateway, **spec: object) -> None:
    assert httpx.post(f"{gw.simulator_url}/_simulator/faults", json=spec).status_code < 300


def test_debug_explains_the_choice(gateway: RunningGateway) -> None:
    body = ask(gateway, debug=True, strategy="auto").json()
    routing = body["x_routeplex"]["routing"]
    assert routing["mode"] == "routeplex-ai" and routing["strategy"] == "auto"
    assert routing["classification"]["category"] == "conversation"
    assert set(routing["weights"]) == {"capability", "cost", "latency", "reliability"}
    scored = [c for c in routing["candidates"] if "score" in c]
    assert scored and scored[0]["model"] == body["x_routeplex"]["model_used"]
    assert set(scored[0]["components"]) == {"capability", "cost", "latency", "reliability"}
    assert "x_routeplex" in body and "routing" not in ask(gateway).json()["x_routeplex"]


def test_cost_and_quality_pick_different_models(gateway: RunningGateway) -> None:
    cheap = ask(gateway, strategy="cost").json()["x_routeplex"]["model_used"]
    best = ask(gateway, strategy="quality").json()["x_routeplex"]["model_used"]
    assert cheap != best


def test_a_500_burst_falls_back_and_users_see_no_error(gateway: RunningGateway) -> None:
    model, upstream = first_choice(gateway)
    fault(gateway, model=upstream, status=500, count=2)
    reply = ask(gateway)
    assert reply.status_code == 200
    extra = reply.json()["x_routeplex"]
    assert extra["fallback_used"] is True and extra["attempts"] == 2
    assert extra["model_used"] != model
    rows = gateway.metadata(expect=2)
    assert rows[-1]["fallback_used"] == 1 and rows[-1]["attempts"] == 2
    assert rows[-1]["served_model"] == extra["model_used"]


def test_streams_fall_back_before_the_first_byte(gateway: RunningGateway) -> None:
    _, upstream = first_choice(gateway)
    fault(gateway, model=upstream, cut_after_chunks=0, count=1)
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        timeout=30,
        headers={
            "Authorization": f"Bearer {gateway.keys['alice']}",
            "X-RoutePlex-Strategy": "cost",
        },
        json={"model": "routeplex-ai", "messages": PROMPT, "stream": True},
    ) as r:
        assert r.status_code == 200
        text = r.read().decode()
    assert '"fallback_used":true' in text and text.rstrip().endswith("data: [DONE]")


def test_never_retried_after_the_first_byte(gateway: RunningGateway) -> None:
    _, upstream = first_choice(gateway)
    fault(gateway, model=upstream, cut_after_chunks=2, count=1)
    client = openai.OpenAI(
        base_url=f"{gateway.url}/v1",
        api_key=gateway.keys["alice"],
        max_retries=0,
        default_headers={"X-RoutePlex-Strategy": "cost"},
    )
    stream = client.chat.completions.create(model="routeplex-ai", messages=PROMPT, stream=True)
    with pytest.raises(openai.APIError):
        list(stream)
    row = gateway.metadata(expect=2)[-1]
    assert row["attempts"] == 1 and row["error_code"] == "provider_error"


def test_retry_after_is_honoured_when_short(gateway: RunningGateway) -> None:
    _, upstream = first_choice(gateway)
    fault(gateway, model=upstream, status=429, retry_after=1, count=1)
    started = time.monotonic()
    reply = ask(gateway)
    assert reply.status_code == 200 and reply.json()["x_routeplex"]["fallback_used"]
    assert time.monotonic() - started >= 1.0


@pytest.fixture
def two_deployments(tmp_path: Path, simulator_url: str) -> Iterator[RunningGateway]:
    """gpt-4o-mini served by two deployments (the simulator knows the second as
    "gpt-4o-mini-backup"), and gpt-4.1 and gpt-4.1-nano configured to fall back to gpt-4o."""
    data = tmp_path / "data"
    data.mkdir()
    settings = gateway_settings(
        data,
        providers=[ProviderConfig(name="backup", base_url=f"{simulator_url}/v1", api_key="k")],
        models={
            "gpt-4o-mini": ModelOverride(
                deployments=[
                    DeploymentConfig(provider="backup", upstream_model="gpt-4o-mini-backup")
                ]
            ),
            "gpt-4.1": ModelOverride(fallbacks=["gpt-4o"]),
            "gpt-4.1-nano": ModelOverride(fallbacks=["gpt-4o"]),  # default tier → premium
        },
    )
    running = RunningGateway(url="", data_dir=data, simulator_url=simulator_url)
    running.keys["alice"] = create_account_with_key(settings, "alice")
    with serve_in_thread(create_app(settings, simulator_url=simulator_url)) as url:
        running.url = url
        yield running


def manual(gw: RunningGateway, model: str, *, test_mode: bool = False) -> httpx.Response:
    headers = {"Authorization": f"Bearer {gw.keys['alice']}"}
    if test_mode:
        headers["X-RoutePlex-Test-Mode"] = "true"
    return httpx.post(
        f"{gw.url}/v1/chat/completions",
        timeout=30,
        headers=headers,
        json={"model": model, "messages": PROMPT, "max_tokens": 20},
    )


def test_circuit_opens_and_traffic_routes_around(two_deployments: RunningGateway) -> None:
    gw = two_deployments
    fault(gw, model="gpt-4o-mini", status=503, duration_s=30)
    failures = 0
    for _ in range(60):  # deployments are picked by weight: count the failed first tries
        reply = manual(gw, "gpt-4o-mini")
        assert reply.status_code == 200  # the other deployment always answers
        assert reply.json()["x_routeplex"]["provider"] == "backup"
        failures += reply.json()["x_routeplex"]["attempts"] - 1
        if failures == 3:
            break
    assert failures == 3
    # By now the failing deployment's circuit is open: it is not even tried.
    attempts = [manual(gw, "gpt-4o-mini").json()["x_routeplex"]["attempts"] for _ in range(5)]
    assert attempts == [1] * 5
    admin_health = [d for d in gw_health(gw) if d["deployment"] == "openai:gpt-4o-mini"]
    assert admin_health[0]["circuit"] == "open" and admin_health[0]["state"] == "down"
    models = httpx.get(f"{gw.url}/api/v1/models").json()["data"]
    assert {m["id"]: m["health"] for m in models}["gpt-4o-mini"] == "healthy"


def gw_health(gw: RunningGateway) -> list[dict[str, object]]:
    from tests.api.test_admin_api import admin_key

    key = admin_key(gw)
    data: list[dict[str, object]] = httpx.get(
        f"{gw.url}/admin/health", headers={"Authorization": f"Bearer {key}"}
    ).json()["data"]
    return data


def test_manual_mode_uses_configured_fallbacks(two_deployments: RunningGateway) -> None:
    gw = two_deployments
    fault(gw, model="gpt-4.1", status=500, count=1)
    reply = manual(gw, "gpt-4.1")
    assert reply.status_code == 200
    extra = reply.json()["x_routeplex"]
    assert extra["fallback_used"] and extra["model_used"] == "gpt-4o"
    assert extra["routing_mode"] == "manual"


def test_test_mode_never_falls_back_to_a_premium_model(two_deployments: RunningGateway) -> None:
    gw = two_deployments
    fault(gw, model="gpt-4.1-nano", status=500, count=1)
    refused = manual(gw, "gpt-4.1-nano", test_mode=True)
    assert refused.status_code == 502 and refused.json()["error"]["code"] == "provider_error"
    fault(gw, model="gpt-4.1-nano", status=500, count=1)
    assert manual(gw, "gpt-4.1-nano").json()["x_routeplex"]["model_used"] == "gpt-4o"


def test_hung_upstream_falls_back(tmp_path: Path, simulator_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    settings = gateway_settings(
        data,
        upstream_timeout_s=0.5,
        retry_started_timeouts=True,  # a hung non-streamed call may then go to the backup
        providers=[
            ProviderConfig(
                name="backup", base_url=f"{simulator_url}/v1", api_key="k", timeout_s=0.5
            )
        ],
        models={
            "gpt-4o-mini": ModelOverride(
                deployments=[
                    DeploymentConfig(
                        provider="backup", upstream_model="gpt-4o-mini-backup", weight=1
                    )
                ]
            )
        },
    )
    key = create_account_with_key(settings, "alice")
    fault_spec = {"model": "gpt-4o-mini", "hang": True}
    assert httpx.post(f"{simulator_url}/_simulator/faults", json=fault_spec).status_code < 300
    with serve_in_thread(create_app(settings, simulator_url=simulator_url)) as url:
        # The two deployments weigh the same, so which is tried first is random: ask until
        # the hung one has been tried first (and timed out) at least once.
        for _ in range(40):
            started = time.monotonic()
            reply = httpx.post(
                f"{url}/v1/chat/completions",
                timeout=30,
                headers={"Authorization": f"Bearer {key}"},
                json={"model": "gpt-4o-mini", "messages": PROMPT, "max_tokens": 25},
            )
            assert reply.status_code == 200
            extra = reply.json()["x_routeplex"]
            assert extra["provider"] == "backup"
            if extra["attempts"] == 2:
                break
        else:
            pytest.fail("the hung deployment was never tried first")
        assert extra["fallback_used"] is True
        assert time.monotonic() - started >= 0.5  # it waited out the timeout, then fell back


def test_everything_failing_is_all_providers_failed(gateway: RunningGateway) -> None:
    fault(gateway, model="*", status=500, count=10)
    reply = ask(gateway)
    assert reply.status_code == 502
    assert reply.json()["error"]["code"] == "all_providers_failed"
    row = gateway.metadata(expect=2)[-1]
    assert row["attempts"] == 3 and row["error_code"] == "all_providers_failed"
