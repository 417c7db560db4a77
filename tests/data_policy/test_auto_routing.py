"""`routeplex-ai` under a data-policy requirement: it chooses only among models with a
compliant deployment and plans only compliant deployments; its debug explanation names the
requirement and each model it excluded for it, with the conditions unmet; and when nothing
complies it refuses (403), never answering 503 as though providers were down."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.data_policy.conftest import HEADER, LABELS, PolicyGateway, chat

# The models with a deployment that keeps nothing, trains on nothing and stays in the EU, and
# the deployments (by id) that are.
EU_ZDR_MODELS = {
    "pol-mixed",
    "pol-a",
    "pol-c",
    "pol-d",
    "pol-pinned",
    "claude-haiku-4-5",
    "claude-3-5-haiku-20241022",
}
EU_ZDR_DEPLOYMENTS = {
    "eu-zdr:mixed-eu",
    "eu-zdr:pol-a-eu",
    "eu-zdr:pol-c-eu",
    "eu-zdr:pol-d-eu",
    "unknown:pinned-eu",
    "anthropic-eu:claude-haiku-4-5-eu",
    "eu-zdr:claude-3-5-haiku-eu",
}
STRICT = "zero-retention, no-training, region=eu"


def routing(reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 200, reply.text
    found: dict[str, Any] = reply.json()["x_routeplex"]["routing"]
    return found


@pytest.mark.parametrize("strategy", ["auto", "cost", "quality", "speed"])
def test_only_compliant_models_are_chosen(policy_gw: PolicyGateway, strategy: str) -> None:
    key = policy_gw.account("auto")
    policy_gw.upstream()
    reply = chat(
        policy_gw,
        key,
        "routeplex-ai",
        policy=STRICT,
        headers={"X-RoutePlex-Debug": "true", "X-RoutePlex-Strategy": strategy},
    )
    explained = routing(reply)
    assert reply.json()["x_routeplex"]["model_used"] in EU_ZDR_MODELS
    assert reply.headers[HEADER] == LABELS["eu-zdr"]
    assert explained["data_policy"] == STRICT
    assert explained["plan"] and {p["deployment"] for p in explained["plan"]} <= EU_ZDR_DEPLOYMENTS
    scored = {c["model"] for c in explained["candidates"] if "score" in c}
    assert scored and scored <= EU_ZDR_MODELS
    by_model = {c["model"]: c for c in explained["candidates"]}
    # Each shipped chat model is out for the policy, with what it fails.
    assert by_model["gpt-4o"]["excluded"] == "data policy: zero-retention, region=eu"
    assert by_model["gpt-4o"]["unmet"] == ["zero-retention", "region=eu"]
    gemini = by_model["gemini-2.5-flash"]
    assert gemini["excluded"].startswith("data policy: ")
    assert gemini["unmet"] == ["zero-retention", "no-training", "region=eu"]
    assert by_model["pol-b"]["unmet"] == ["zero-retention", "region=eu"]
    for candidate in explained["candidates"]:
        if candidate.get("excluded", "").startswith("data policy"):
            assert candidate["unmet"] and candidate["model"] not in EU_ZDR_MODELS
    sent = [r["body"]["model"] for r in policy_gw.upstream()]
    assert len(sent) == 1 and sent[0] in {d.split(":")[1] for d in EU_ZDR_DEPLOYMENTS}


def test_many_auto_answers_stay_compliant(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("auto-acct", account_policy="region=global")
    for strategy in ("auto", "cost", "quality", "speed") * 3:
        reply = chat(policy_gw, key, "routeplex-ai", headers={"X-RoutePlex-Strategy": strategy})
        assert reply.status_code == 200, reply.text
        # Only Anthropic's and Google's published defaults say "global".
        assert reply.json()["x_routeplex"]["provider"] in {"anthropic", "google"}
        assert reply.headers[HEADER] in {LABELS["anthropic"], LABELS["google"]}
        row = policy_gw.row(reply.headers["X-Request-Id"])
        assert row["routing_mode"] == "routeplex-ai" and row["data_policy_met"] == 1
        assert row["data_policy_required"] == "region=global"


def test_without_a_requirement_the_debug_names_no_policy(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("auto")
    explained = routing(chat(policy_gw, key, "routeplex-ai", headers={"X-RoutePlex-Debug": "1"}))
    assert "data_policy" not in explained
    assert not any("unmet" in c for c in explained["candidates"])
    assert not any(c.get("excluded", "").startswith("data policy") for c in explained["candidates"])


@pytest.mark.parametrize("requirement", ["region=jp", "zero-retention, region=us", "region=none"])
def test_nothing_complying_is_403_not_503(policy_gw: PolicyGateway, requirement: str) -> None:
    key = policy_gw.account("auto")
    policy_gw.upstream()
    native = policy_gw.http.post(
        f"{policy_gw.url}/api/v1/chat",
        headers={"Authorization": f"Bearer {key}", HEADER: requirement},
        json={"mode": "routeplex-ai", "messages": [{"role": "user", "content": "hi canary"}]},
        timeout=30,
    )
    assert native.status_code == 403, native.text
    error = native.json()["error"]
    assert error["code"] == "forbidden_model" and error["details"]["reason"] == "data_policy"
    assert error["details"]["unmet"]
    for condition in error["details"]["unmet"]:
        assert condition in error["message"]
    openai_shape = chat(policy_gw, key, "routeplex-ai", policy=requirement)
    assert openai_shape.status_code == 403
    assert openai_shape.json()["error"]["code"] == "forbidden_model"
    assert policy_gw.upstream() == []
    row = policy_gw.row(native.headers["X-Request-Id"])
    assert row["routing_mode"] == "routeplex-ai" and row["data_policy_met"] == 0


def test_a_model_out_for_one_condition_is_in_for_another(policy_gw: PolicyGateway) -> None:
    """`pol-override` keeps nothing, as configured, but whether it trains is unknown."""
    key = policy_gw.account("auto")
    debug = {"X-RoutePlex-Debug": "true"}
    kept = routing(chat(policy_gw, key, "routeplex-ai", policy="zero-retention", headers=debug))
    candidate = {c["model"]: c for c in kept["candidates"]}["pol-override"]
    assert "excluded" not in candidate and "score" in candidate
    trains = routing(chat(policy_gw, key, "routeplex-ai", policy="no-training", headers=debug))
    candidate = {c["model"]: c for c in trains["candidates"]}["pol-override"]
    assert candidate["excluded"] == "data policy: no-training"
    assert candidate["unmet"] == ["no-training"]


def _estimate(policy_gw: PolicyGateway, body: dict[str, Any], policy: str | None) -> httpx.Response:
    headers = {HEADER: policy} if policy is not None else {}
    return policy_gw.http.post(
        f"{policy_gw.url}/api/v1/chat/estimate",
        json={"messages": [{"role": "user", "content": "hello"}], **body},
        headers=headers,
    )


@pytest.mark.parametrize("body", [{"model": "routeplex-ai"}, {}])
def test_an_estimate_quotes_only_a_model_the_policy_allows(
    policy_gw: PolicyGateway, body: dict[str, Any]
) -> None:
    """The estimate (no key) quotes what chat would route to under the request's header: the
    automatic choice and the cheapest model both come from the compliant models."""
    quoted = _estimate(policy_gw, body, STRICT)
    assert quoted.status_code == 200, quoted.text
    assert quoted.json()["data"]["model"] in EU_ZDR_MODELS
    unconstrained = _estimate(policy_gw, body, None)
    assert unconstrained.status_code == 200
    assert unconstrained.json()["data"]["model"] not in EU_ZDR_MODELS  # the control: policy matters


def test_an_estimate_for_a_model_the_policy_excludes_is_refused(policy_gw: PolicyGateway) -> None:
    refused = _estimate(policy_gw, {"model": "gpt-4o-mini"}, STRICT)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert (error["code"], error["details"]["reason"]) == ("forbidden_model", "data_policy")
    assert _estimate(policy_gw, {"model": "pol-a"}, STRICT).status_code == 200
    unreadable = _estimate(policy_gw, {"model": "routeplex-ai"}, "bogus")
    assert unreadable.status_code == 400
    assert unreadable.json()["error"]["code"] == "validation_error"
