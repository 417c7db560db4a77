"""Where a requirement comes from: the account's, the key's, the request's header — combined
so that a key or a header only ever narrows what the account requires (asking for less
changes nothing; regions that do not overlap leave nothing that complies). Stored changes
reach the gateway's key cache; an unreadable stored requirement refuses everything."""

from __future__ import annotations

import pytest

from tests.data_policy.conftest import (
    HEADER,
    MIXED,
    PROMPT,
    PolicyGateway,
    change_policy,
    chat,
    served_by,
)

ROUNDS = 10


def served(gw: PolicyGateway, key: str, policy: str | None = None) -> set[str]:
    """The endpoints that answered `pol-mixed` over some rounds, each checked against what
    the simulator received."""
    gw.upstream()
    names = {served_by(chat(gw, key, "pol-mixed", policy=policy)) for _ in range(ROUNDS)}
    assert {r["body"]["model"] for r in gw.upstream()} == {MIXED[n] for n in names}
    return names


# Each requirement alone and combined, and the deployments of pol-mixed meeting it.
COMPLIANT = {
    "zero-retention": {"eu-zdr", "trains", "multi"},
    "no-training": {"eu-zdr", "us-keeps", "multi"},
    "region=eu": {"eu-zdr", "trains"},
    "region=eu, region=us": {"eu-zdr", "us-keeps", "trains", "multi"},
    "zero-retention, no-training": {"eu-zdr", "multi"},
    "no-training, region=us": {"us-keeps"},
}


@pytest.mark.parametrize("source", ["account", "key"])
@pytest.mark.parametrize("requirement", list(COMPLIANT))
def test_a_stored_requirement_alone_decides(
    policy_gw: PolicyGateway, source: str, requirement: str
) -> None:
    key = policy_gw.account(f"{source}-stored", **{f"{source}_policy": requirement})
    assert served(policy_gw, key) <= COMPLIANT[requirement]
    reply = chat(policy_gw, key, "pol-mixed")
    row = policy_gw.row(reply.headers["X-Request-Id"])
    assert row["data_policy_required"] == requirement and row["data_policy_met"] == 1


def test_the_accounts_requirement_applies_without_a_header(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("acct-eu", account_policy="zero-retention, no-training, region=eu")
    assert served(policy_gw, key) == {"eu-zdr"}
    reply = chat(policy_gw, key, "pol-mixed")
    row = policy_gw.row(reply.headers["X-Request-Id"])
    assert row["data_policy_required"] == "zero-retention, no-training, region=eu"
    assert row["data_policy_met"] == 1
    assert row["data_policy_served"] == "retention-days=0, training=no, region=eu"


def test_the_keys_requirement_applies_without_a_header(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("key-us", key_policy="region=us")
    assert served(policy_gw, key) == {"us-keeps"}
    # Another key of the same account has no requirement of its own.
    other = policy_gw.account("key-us")
    assert len(served(policy_gw, other)) > 1


def test_a_key_narrows_its_accounts_requirement(policy_gw: PolicyGateway) -> None:
    # The account requires zero retention, the key no training: both hold.
    key = policy_gw.account("narrowed", account_policy="zero-retention", key_policy="no-training")
    assert served(policy_gw, key) <= {"eu-zdr", "multi"}
    reply = chat(policy_gw, key, "pol-mixed")
    assert policy_gw.row(reply.headers["X-Request-Id"])["data_policy_required"] == (
        "zero-retention, no-training"
    )


def test_a_key_cannot_loosen_its_accounts_regions(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("loosen", account_policy="region=eu", key_policy="region=eu, region=us")
    assert served(policy_gw, key) <= {"eu-zdr", "trains"}


def test_a_header_asking_for_less_still_gets_the_accounts(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("strict", account_policy="zero-retention, no-training, region=eu")
    for asked in ("no-training", "region=eu, region=us", ""):
        assert served(policy_gw, key, asked) == {"eu-zdr"}, asked
        reply = chat(policy_gw, key, "pol-mixed", policy=asked)
        row = policy_gw.row(reply.headers["X-Request-Id"])
        assert row["data_policy_required"] == "zero-retention, no-training, region=eu"


def test_a_header_narrows_a_keys_requirement(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("header-narrows", key_policy="region=eu, region=us")
    assert served(policy_gw, key) <= {"eu-zdr", "us-keeps", "trains", "multi"}
    assert served(policy_gw, key, "region=us") == {"us-keeps"}
    assert served(policy_gw, key, "zero-retention, no-training") <= {"eu-zdr", "multi"}
    reply = chat(policy_gw, key, "pol-mixed", policy="zero-retention")
    assert policy_gw.row(reply.headers["X-Request-Id"])["data_policy_required"] == (
        "zero-retention, region=eu, region=us"
    )


def test_a_header_sent_on_several_lines_counts_every_line(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("header-lines")
    lines = [("Authorization", f"Bearer {key}"), (HEADER, "zero-retention"), (HEADER, "region=us")]
    body = {"model": "pol-mixed", "messages": PROMPT, "max_tokens": 8}
    policy_gw.upstream()
    # Nothing of pol-mixed keeps nothing and stays in the US.
    refused = policy_gw.http.post(f"{policy_gw.url}/v1/chat/completions", headers=lines, json=body)
    assert refused.status_code == 403, refused.text
    assert "zero-retention" in refused.json()["error"]["message"]
    assert policy_gw.upstream() == []
    lines[2] = (HEADER, "no-training")
    for _ in range(ROUNDS):
        reply = policy_gw.http.post(
            f"{policy_gw.url}/v1/chat/completions", headers=lines, json=body
        )
        assert served_by(reply) in {"eu-zdr", "multi"}
    row = policy_gw.row(reply.headers["X-Request-Id"])
    assert row["data_policy_required"] == "zero-retention, no-training"


def test_disjoint_regions_leave_nothing_to_comply(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("eu-only", account_policy="region=eu")
    policy_gw.upstream()
    for model in ("pol-mixed", "pol-c", "routeplex-ai"):
        reply = policy_gw.http.post(
            f"{policy_gw.url}/api/v1/chat",
            headers={"Authorization": f"Bearer {key}", HEADER: "region=us"},
            json={"model": model, "messages": [{"role": "user", "content": "hi canary"}]},
            timeout=30,
        )
        assert reply.status_code == 403, reply.text
        details = reply.json()["error"]["details"]
        assert details == {
            "reason": "data_policy",
            "required": "region=none",
            "unmet": ["region=none"],
            "param": "model",
        }
    assert policy_gw.upstream() == []
    # The same with the key's own requirement, on the OpenAI surface.
    key = policy_gw.account("eu-us-key", account_policy="region=eu", key_policy="region=us")
    refused = chat(policy_gw, key, "pol-mixed")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden_model"
    assert "region=none" in refused.json()["error"]["message"]


def test_stored_changes_reach_the_gateway(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("changing")
    assert len(served(policy_gw, key)) > 1
    change_policy(policy_gw, "changing", account_policy="region=us")
    assert served(policy_gw, key) == {"us-keeps"}
    # The key's own requirement then narrows the account's: nothing is US-only and keeps
    # nothing, so the model is refused.
    change_policy(policy_gw, "changing", key_policy="zero-retention")
    refused = chat(policy_gw, key, "pol-mixed")
    assert refused.status_code == 403, refused.text
    assert "zero-retention" in refused.json()["error"]["message"]
    # Cleared (an empty label is none), the account's alone applies again.
    change_policy(policy_gw, "changing", key_policy="")
    assert served(policy_gw, key) == {"us-keeps"}


def test_an_unreadable_stored_requirement_refuses_everything(policy_gw: PolicyGateway) -> None:
    """Stored labels are checked before they are written; should one be unreadable anyway,
    the gateway fails closed rather than routing as though nothing were required."""
    key = policy_gw.account("garbled", account_policy="zero-retention, sometimes")
    policy_gw.upstream()
    for model in ("pol-mixed", "gpt-4o-mini", "routeplex-ai"):
        reply = chat(policy_gw, key, model)
        assert reply.status_code == 403, reply.text
        assert reply.json()["error"]["code"] == "forbidden_model"
    assert policy_gw.upstream() == []
