"""A model asked for by name: only its deployments meeting the request's data policy are ever
sent the prompt, whichever the weighted draw would have picked; a model with none is refused
(403 `forbidden_model`, reason `data_policy`, the unmet conditions named) before any provider
is asked. Each answer names the serving deployment's policy in `X-RoutePlex-Data-Policy`."""

from __future__ import annotations

import pytest

from tests.data_policy.conftest import HEADER, LABELS, MIXED, PolicyGateway, chat, served_by

ROUNDS = 16  # five deployments of equal weight: a draw ignoring the policy shows within these


def test_without_a_requirement_every_deployment_is_drawn(
    policy_gw: PolicyGateway,
) -> None:
    """The control: the draw spreads over all five deployments, so a test below that sees
    only compliant ones would see others if the policy were ignored."""
    key = policy_gw.account("drawn")
    served = {served_by(chat(policy_gw, key, "pol-mixed")) for _ in range(40)}
    assert len(served) >= 3 and served <= set(MIXED)


@pytest.mark.parametrize(
    ("requirement", "compliant"),
    [
        ("zero-retention", {"eu-zdr", "trains", "multi"}),
        ("no-training", {"eu-zdr", "us-keeps", "multi"}),
        ("region=eu", {"eu-zdr", "trains"}),
        ("region=us", {"us-keeps"}),
        ("region=eu, region=us", {"eu-zdr", "us-keeps", "trains", "multi"}),
        ("zero-retention, no-training", {"eu-zdr", "multi"}),
        ("zero-retention, no-training, region=eu", {"eu-zdr"}),
        ("no-training, region=us", {"us-keeps"}),
        ("Zero-Retention ,  REGION=EU", {"eu-zdr", "trains"}),
    ],
)
def test_only_compliant_deployments_serve(
    policy_gw: PolicyGateway, requirement: str, compliant: set[str]
) -> None:
    key = policy_gw.account("header-only")
    policy_gw.upstream()
    served = [
        served_by(chat(policy_gw, key, "pol-mixed", policy=requirement)) for _ in range(ROUNDS)
    ]
    assert set(served) <= compliant
    if len(compliant) == 1:
        assert set(served) == compliant
    # What the simulator received agrees: one call a request, each to a compliant deployment.
    sent = [r["body"]["model"] for r in policy_gw.upstream()]
    assert len(sent) == ROUNDS
    assert set(sent) <= {MIXED[name] for name in compliant}


@pytest.mark.parametrize(
    ("model", "requirement", "unmet"),
    [
        ("pol-mixed", "zero-retention, region=us", {"zero-retention", "region=us"}),
        ("pol-mixed", "region=jp", {"region=jp"}),
        ("pol-mixed", "region=none", {"region=none"}),
        ("pol-override", "no-training", {"no-training"}),  # zero retention, training unknown
        ("pol-c", "region=us", {"region=us"}),
        ("gpt-4o-mini", "zero-retention", {"zero-retention"}),
        ("gpt-4o-mini", "region=us", {"region=us"}),  # OpenAI publishes no default region
        ("gemini-2.5-flash", "no-training", {"no-training"}),  # depends on the key's project
        ("claude-sonnet-4-20250514", "region=eu, region=us", {"region=eu|region=us"}),
    ],
)
def test_no_compliant_deployment_is_refused_untried(
    policy_gw: PolicyGateway, model: str, requirement: str, unmet: set[str]
) -> None:
    key = policy_gw.account("refused")
    policy_gw.upstream()
    reply = policy_gw.http.post(
        f"{policy_gw.url}/api/v1/chat",
        headers={"Authorization": f"Bearer {key}", HEADER: requirement},
        json={"model": model, "messages": [{"role": "user", "content": "hi canary"}]},
        timeout=30,
    )
    assert reply.status_code == 403, reply.text
    error = reply.json()["error"]
    assert error["code"] == "forbidden_model"
    details = error["details"]
    assert details["reason"] == "data_policy" and set(details["unmet"]) == unmet
    assert details["required"] == reply_label(requirement)
    for condition in unmet:
        assert condition in error["message"]
    assert HEADER not in reply.headers  # no deployment was asked
    assert policy_gw.upstream() == []
    row = policy_gw.row(reply.headers["X-Request-Id"])
    assert row["http_status"] == 403 and row["error_code"] == "forbidden_model"
    assert row["data_policy_required"] == details["required"]
    assert row["data_policy_met"] == 0 and row["data_policy_served"] is None


def reply_label(requirement: str) -> str:
    from routeplex_gateway.data_policy import DataRequirement

    return DataRequirement.parse(requirement).label()


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("gpt-4o-mini", "openai"),
        ("claude-sonnet-4-20250514", "anthropic"),
        ("gemini-2.5-flash", "google"),
    ],
)
def test_builtin_providers_answer_with_their_published_policy(
    policy_gw: PolicyGateway, model: str, provider: str
) -> None:
    key = policy_gw.account("builtin")
    reply = chat(policy_gw, key, model)
    assert served_by(reply) == provider
    assert reply.headers[HEADER] == LABELS[provider]
    row = policy_gw.row(reply.headers["X-Request-Id"])
    # Nothing was required, so nothing was met or not; what served is still recorded.
    assert row["data_policy_required"] is None and row["data_policy_met"] is None
    assert row["data_policy_served"] == LABELS[provider]


@pytest.mark.parametrize(
    ("model", "requirement", "provider"),
    [
        ("claude-sonnet-4-20250514", "no-training, region=global", "anthropic"),
        ("gemini-2.5-flash", "region=global", "google"),
        ("gpt-4o-mini", "no-training", "openai"),
    ],
)
def test_builtin_defaults_meet_what_they_publish(
    policy_gw: PolicyGateway, model: str, requirement: str, provider: str
) -> None:
    key = policy_gw.account("builtin")
    reply = chat(policy_gw, key, model, policy=requirement)
    assert served_by(reply) == provider
    row = policy_gw.row(reply.headers["X-Request-Id"])
    assert row["data_policy_required"] == reply_label(requirement)
    assert row["data_policy_met"] == 1 and row["data_policy_served"] == LABELS[provider]


def test_a_deployments_own_policy_decides_over_its_endpoints(
    policy_gw: PolicyGateway,
) -> None:
    """`pol-pinned`: its deployment on the `unknown` endpoint is configured as an EU
    zero-retention one; the model's own deployment is on `us-keeps`."""
    key = policy_gw.account("pinned")
    policy_gw.upstream()
    for _ in range(12):
        reply = chat(policy_gw, key, "pol-pinned", policy="zero-retention, region=eu")
        assert reply.status_code == 200, reply.text
        assert reply.json()["x_routeplex"]["provider"] == "unknown"
        assert reply.headers[HEADER] == LABELS["eu-zdr"]
    assert {r["body"]["model"] for r in policy_gw.upstream()} == {"pinned-eu"}
    # The same endpoint's other models keep its (unknown) policy.
    other = chat(policy_gw, key, "pol-mixed", policy="zero-retention, no-training, region=eu")
    assert served_by(other) == "eu-zdr"


def test_a_models_own_policy_decides_over_its_endpoints(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("override")
    reply = chat(policy_gw, key, "pol-override", policy="zero-retention")
    assert reply.status_code == 200, reply.text
    assert reply.headers[HEADER] == "retention-days=0, training=unknown, region=unknown"
