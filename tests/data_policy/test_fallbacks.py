"""Fallbacks never cross a data-policy requirement: a failing compliant deployment falls back
only to compliant ones (the next compliant model, skipping a configured fallback that is
not), a request whose only fallback is non-compliant fails with the provider's error, and no
health or circuit state makes routing send the prompt where the policy forbids."""

from __future__ import annotations

from pathlib import Path

from routeplex_gateway.data_policy import DataRequirement
from routeplex_gateway.providers import ProviderRegistry
from routeplex_gateway.routing.catalog import build_catalog
from routeplex_gateway.routing.health import FAILURES_TO_OPEN
from routeplex_gateway.routing.router import Router
from tests.data_policy.conftest import (
    HEADER,
    LABELS,
    PROMPT,
    PolicyGateway,
    chat,
    policy_settings,
    served_by,
)

ZDR = "zero-retention"


def sent_models(gw: PolicyGateway) -> list[str]:
    return [r["body"]["model"] for r in gw.upstream()]


def test_a_failing_compliant_model_falls_back_to_a_compliant_one(fresh_gw: PolicyGateway) -> None:
    key = fresh_gw.account("fb")
    fresh_gw.upstream()
    # pol-a falls back to pol-b (US, keeps 30 days) first, then pol-c (EU, keeps nothing).
    fresh_gw.fault(model="pol-a-eu", status=500, count=1)
    reply = chat(fresh_gw, key, "pol-a", policy=ZDR)
    assert served_by(reply) == "eu-zdr"
    extra = reply.json()["x_routeplex"]
    assert extra["model_used"] == "pol-c" and extra["fallback_used"] is True
    assert sent_models(fresh_gw) == ["pol-a-eu", "pol-c-eu"]
    row = fresh_gw.row(reply.headers["X-Request-Id"])
    assert row["fallback_used"] == 1 and row["served_model"] == "pol-c"
    assert row["data_policy_met"] == 1 and row["data_policy_served"] == LABELS["eu-zdr"]
    # The control: with nothing required, the first configured fallback serves.
    fresh_gw.fault(model="pol-a-eu", status=500, count=1)
    loose = chat(fresh_gw, key, "pol-a")
    assert loose.json()["x_routeplex"]["model_used"] == "pol-b"
    assert loose.headers[HEADER] == LABELS["us-keeps"]
    assert sent_models(fresh_gw) == ["pol-a-eu", "pol-b-us"]


def test_a_stream_falls_back_only_to_a_compliant_model(fresh_gw: PolicyGateway) -> None:
    key = fresh_gw.account("fb")
    fresh_gw.upstream()
    fresh_gw.fault(model="pol-a-eu", cut_after_chunks=0, count=1)
    with fresh_gw.http.stream(
        "POST",
        f"{fresh_gw.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}", HEADER: ZDR},
        json={"model": "pol-a", "messages": PROMPT, "stream": True, "max_tokens": 16},
        timeout=30,
    ) as reply:
        assert reply.status_code == 200
        assert reply.headers[HEADER] == LABELS["eu-zdr"]
        text = reply.read().decode()
    assert '"model_used":"pol-c"' in text and '"fallback_used":true' in text
    assert sent_models(fresh_gw) == ["pol-a-eu", "pol-c-eu"]


def test_the_only_fallback_being_non_compliant_fails_with_the_providers_error(
    fresh_gw: PolicyGateway,
) -> None:
    key = fresh_gw.account("fb")
    fresh_gw.upstream()
    fresh_gw.fault(model="pol-d-eu", status=500, count=1)
    reply = chat(fresh_gw, key, "pol-d", policy=ZDR)
    assert reply.status_code == 502, reply.text
    assert reply.json()["error"]["code"] == "provider_error"
    # The deployment that was asked (and failed) is the one the header names.
    assert reply.headers[HEADER] == LABELS["eu-zdr"]
    assert sent_models(fresh_gw) == ["pol-d-eu"]
    row = fresh_gw.row(reply.headers["X-Request-Id"])
    assert row["error_code"] == "provider_error" and row["attempts"] == 1
    # Refused by the provider, not for the policy: the policy held.
    assert row["data_policy_required"] == ZDR and row["data_policy_met"] == 1
    # The control: with nothing required, pol-b answers.
    fresh_gw.fault(model="pol-d-eu", status=500, count=1)
    loose = chat(fresh_gw, key, "pol-d")
    assert loose.status_code == 200 and loose.json()["x_routeplex"]["model_used"] == "pol-b"


def test_an_open_circuit_never_sends_the_prompt_elsewhere(fresh_gw: PolicyGateway) -> None:
    """pol-mixed's one US deployment fails until its circuit opens; a US-only request still
    goes nowhere else (the failing deployment is the least bad compliant one, so it is tried
    rather than nothing), while a request without the requirement is served by the others."""
    key = fresh_gw.account("circuit")
    fresh_gw.upstream()
    fresh_gw.fault(model="mixed-us", status=503, duration_s=30)
    statuses = [
        chat(fresh_gw, key, "pol-mixed", policy="region=us").status_code
        for _ in range(FAILURES_TO_OPEN + 3)
    ]
    assert set(statuses) <= {502, 503}
    assert set(sent_models(fresh_gw)) == {"mixed-us"}
    health = fresh_gw_health(fresh_gw)
    assert health["us-keeps:mixed-us"] == "open"
    # Routing around the open circuit is for requests that may go elsewhere.
    assert served_by(chat(fresh_gw, key, "pol-mixed")) != "us-keeps"
    assert served_by(chat(fresh_gw, key, "pol-mixed", policy="no-training")) in {
        "eu-zdr",
        "multi",
    }
    # Auto routing too: pol-b (also US-only) serves rather than anything outside the US.
    auto = chat(fresh_gw, key, "routeplex-ai", policy="region=us")
    assert served_by(auto) == "us-keeps"
    assert auto.json()["x_routeplex"]["model_used"] in {"pol-b", "pol-pinned"}


def fresh_gw_health(gw: PolicyGateway) -> dict[str, str]:
    from tests.api.test_admin_api import admin_key

    key = admin_key(gw)
    data = gw.http.get(f"{gw.url}/admin/health", headers={"Authorization": f"Bearer {key}"})
    data = data.json()["data"]
    return {d["deployment"]: d["circuit"] for d in data}


def test_plan_keeps_to_compliant_deployments_whatever_their_health(tmp_path: Path) -> None:
    settings = policy_settings(tmp_path, "http://127.0.0.1:9")
    catalog = build_catalog(settings, simulator_url="http://127.0.0.1:9")
    router = Router(catalog, ProviderRegistry())
    mixed, a, b, c = (catalog.resolve(m) for m in ("pol-mixed", "pol-a", "pol-b", "pol-c"))
    assert mixed and a and b and c
    eu_zdr = DataRequirement.parse("zero-retention, no-training, region=eu")
    # Every compliant deployment down, every other healthy.
    for model in (mixed, a, c):
        for deployment in model.deployments:
            if not eu_zdr.unmet(deployment.data_policy):
                for _ in range(FAILURES_TO_OPEN):
                    router.health.record(deployment.id, ok=False, latency_ms=10)
    for _ in range(20):
        plan = router.plan([mixed], requirement=eu_zdr)
        assert [d.id for _, d in plan] == ["eu-zdr:mixed-eu"]
        plan = router.plan([a, b, c], requirement=eu_zdr)
        assert {d.id for _, d in plan} <= {"eu-zdr:pol-a-eu", "eu-zdr:pol-c-eu"}
        assert all(not eu_zdr.unmet(d.data_policy) for _, d in plan)
    # Without the requirement, health steers to the healthy (non-compliant) ones.
    loose = router.plan([mixed])
    assert "eu-zdr:mixed-eu" not in [d.id for _, d in loose[:4]]
    # Counting tokens asks compliant deployments only; none here speaks Anthropic's format.
    assert router.unmet(b, eu_zdr) == ("zero-retention", "region=eu")
    assert router.unmet(mixed, eu_zdr) == ()
