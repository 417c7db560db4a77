"""The circuit breaker end to end: a tripped deployment gets its probe under automatic
routing and comes back, a stream that breaks after its first byte counts against its
deployment, and a request the breaker sends to another model says so in its record."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from routeplex_gateway.routing import health
from tests.api.test_routing import ask, fault, first_choice, gw_health, manual, two_deployments
from tests.conftest import RunningGateway

__all__ = ["two_deployments"]  # the fixture, shared with test_routing


@pytest.fixture(autouse=True)
def cool_down(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Circuits stay open until the test calls the returned function: then the cool-down is
    over at once (the gateway runs in this process), whatever the machine's speed."""
    monkeypatch.setattr(health, "COOL_DOWN_S", 3600.0)
    return lambda: monkeypatch.setattr(health, "COOL_DOWN_S", 0.0)


def circuit(gw: RunningGateway, deployment: str) -> str:
    return next(str(d["circuit"]) for d in gw_health(gw) if d["deployment"] == deployment)


def test_a_tripped_model_is_probed_and_comes_back_under_auto_routing(
    gateway: RunningGateway, cool_down: Callable[[], None]
) -> None:
    model, upstream = first_choice(gateway)
    deployment = f"openai:{upstream}"
    # A track record first, so that three failures trip its circuit without making it a
    # worse choice on reliability or latency (the "cost" strategy picks it by a wide margin).
    for _ in range(20):
        assert ask(gateway).json()["x_routeplex"]["model_used"] == model
    fault(gateway, model=upstream, status=500, count=health.FAILURES_TO_OPEN)
    for _ in range(health.FAILURES_TO_OPEN):
        assert ask(gateway).json()["x_routeplex"]["attempts"] == 2
    assert circuit(gateway, deployment) == "open"

    # The breaker sends the next request elsewhere: one attempt, and it says it fell back.
    rerouted = ask(gateway).json()["x_routeplex"]
    assert rerouted["model_used"] != model
    assert rerouted["attempts"] == 1 and rerouted["fallback_used"] is True
    row = gateway.metadata(expect=health.FAILURES_TO_OPEN + 22)[-1]
    assert row["fallback_used"] == 1 and row["attempts"] == 1

    # After the cool-down, one request probes the model (the fault is over) and closes it.
    cool_down()
    served = [ask(gateway).json()["x_routeplex"] for _ in range(3)]
    assert served[0]["model_used"] == model and served[0]["fallback_used"] is False
    assert circuit(gateway, deployment) == "closed"
    assert all(s["model_used"] == model for s in served)


def test_a_configured_fallback_taken_for_an_open_circuit_is_a_fallback(
    two_deployments: RunningGateway,
) -> None:
    gw = two_deployments
    fault(gw, model="gpt-4.1", status=500, count=health.FAILURES_TO_OPEN)
    for _ in range(health.FAILURES_TO_OPEN):
        assert manual(gw, "gpt-4.1").json()["x_routeplex"]["attempts"] == 2
    extra = manual(gw, "gpt-4.1").json()["x_routeplex"]
    assert extra["model_used"] == "gpt-4o"
    assert extra["attempts"] == 1 and extra["fallback_used"] is True
    row = gw.metadata(expect=health.FAILURES_TO_OPEN + 1)[-1]
    assert row["fallback_used"] == 1 and row["served_model"] == "gpt-4o"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/v1/chat"])
def test_streams_that_break_after_the_first_byte_open_the_circuit(
    gateway: RunningGateway, path: str
) -> None:
    fault(gateway, model="gpt-4o-mini", cut_after_chunks=2, count=health.FAILURES_TO_OPEN)
    for _ in range(health.FAILURES_TO_OPEN):
        with httpx.stream(
            "POST",
            f"{gateway.url}{path}",
            timeout=30,
            headers={"Authorization": f"Bearer {gateway.keys['alice']}"},
            json={
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": True,
            },
        ) as reply:
            assert reply.status_code == 200
            text = reply.read().decode()
        assert "provider_error" in text  # broken after the first byte: reported in-stream
    assert circuit(gateway, "openai:gpt-4o-mini") == "open"
