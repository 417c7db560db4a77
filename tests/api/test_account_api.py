"""The account holder's API: usage per day and model, and managing their own keys."""

from __future__ import annotations

import httpx

from tests.conftest import RunningGateway


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_usage_matches_the_requests_made(gateway: RunningGateway) -> None:
    key = gateway.keys["alice"]
    tokens = 0
    for model in ("gpt-4o-mini", "gpt-4o-mini", "gpt-4o"):
        reply = httpx.post(
            f"{gateway.url}/v1/chat/completions",
            headers=auth(key),
            timeout=10,
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        )
        tokens += reply.json()["usage"]["total_tokens"]
    gateway.metadata(expect=3)
    data = httpx.get(f"{gateway.url}/api/v1/usage?days=7", headers=auth(key)).json()["data"]
    by_model = {row["model"]: row for row in data["usage"]}
    assert by_model["gpt-4o-mini"]["requests"] == 2 and by_model["gpt-4o"]["requests"] == 1
    assert data["totals"]["requests"] == 3
    assert data["totals"]["input_tokens"] + data["totals"]["output_tokens"] == tokens
    assert data["totals"]["cost_usd"] > 0 and data["totals"]["unknown_cost_requests"] == 0

    other = gateway.add_account("mallory")
    theirs = httpx.get(f"{gateway.url}/api/v1/usage", headers=auth(other)).json()["data"]
    assert theirs["usage"] == []  # one account never sees another's usage


def test_usage_days_validation(gateway: RunningGateway) -> None:
    for bad in ("0", "-1", "abc", "100000"):
        response = httpx.get(
            f"{gateway.url}/api/v1/usage?days={bad}", headers=auth(gateway.keys["alice"])
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"
    assert httpx.get(f"{gateway.url}/api/v1/usage").status_code == 401


def test_keys_create_use_list_revoke(gateway: RunningGateway) -> None:
    admin_key = gateway.keys["alice"]
    created = httpx.post(
        f"{gateway.url}/api/v1/account/keys",
        headers=auth(admin_key),
        json={"name": "ci", "expires_in_days": 30, "allowed_models": ["openai/gpt-4o-mini"]},
    )
    assert created.status_code == 201
    new = created.json()["data"]
    assert new["key"].startswith("rp_live_") and new["allowed_models"] == ["gpt-4o-mini"]
    assert new["display"] == f"{new['key'][:12]}…{new['key'][-4:]}"
    ok = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers=auth(new["key"]),
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
    )
    assert ok.status_code == 200

    listed = httpx.get(f"{gateway.url}/api/v1/account/keys", headers=auth(admin_key)).json()
    assert {k["id"] for k in listed["data"]} >= {new["id"]}
    assert new["key"] not in str(listed)  # listed keys never include the key

    revoked = httpx.delete(
        f"{gateway.url}/api/v1/account/keys/{new['id']}", headers=auth(admin_key)
    )
    assert revoked.status_code == 200
    refused = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers=auth(new["key"]),
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
    )
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    again = httpx.delete(f"{gateway.url}/api/v1/account/keys/{new['id']}", headers=auth(admin_key))
    assert again.status_code == 404


def test_keys_of_another_account_cannot_be_revoked(gateway: RunningGateway) -> None:
    victim = gateway.add_account("victim")
    victim_keys = httpx.get(f"{gateway.url}/api/v1/account/keys", headers=auth(victim)).json()
    key_id = victim_keys["data"][0]["id"]
    attempt = httpx.delete(
        f"{gateway.url}/api/v1/account/keys/{key_id}", headers=auth(gateway.keys["alice"])
    )
    assert attempt.status_code == 404
    ok = httpx.get(f"{gateway.url}/api/v1/account/keys", headers=auth(victim))
    assert ok.status_code == 200


def test_bad_key_requests(gateway: RunningGateway) -> None:
    key = gateway.keys["alice"]
    for body, param in (
        ({"name": 5}, "name"),
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"allowed_models": "all"}, "allowed_models"),
        ({"limits": {"rpm": -3}}, "limits"),
    ):
        response = httpx.post(f"{gateway.url}/api/v1/account/keys", headers=auth(key), json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["details"]["param"] == param
    unknown = httpx.post(
        f"{gateway.url}/api/v1/account/keys", headers=auth(key), json={"allowed_models": ["gpt-99"]}
    )
    assert unknown.json()["error"]["code"] == "invalid_model"
