"""Setting data-policy requirements through the operator's and the account holder's APIs:
accounts and keys take `data_policy`, their views show it, a key's narrows its account's, a
change to the account's holds for its keys' next request here, and bad input is a 400 that
names the field without repeating it.

The simulated providers carry the built-in published policies: OpenAI keeps traffic 30 days
and does not train on it (regions unknown), Gemini's training is unknown. So `no-training`
allows gpt-4o-mini and refuses gemini-2.0-flash; `zero-retention` refuses both."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.api.test_admin_api import admin_key, auth
from tests.conftest import RunningGateway

PROMPT = [{"role": "user", "content": "canary: data policy"}]
NO_TRAINING = {"zero_retention": False, "no_training": True, "regions": None}


def _native_chat(gateway: RunningGateway, key: str, model: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/api/v1/chat",
        headers=auth(key),
        json={"model": model, "messages": PROMPT, "max_tokens": 5},
        timeout=10,
    )


def _refused_for_data_policy(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "forbidden_model" and error["details"]["reason"] == "data_policy"
    details: dict[str, Any] = error["details"]
    return details


def test_account_requirement_set_shown_cleared_and_applied_at_once(
    gateway: RunningGateway,
) -> None:
    admin = auth(admin_key(gateway))
    base = f"{gateway.url}/admin/accounts"
    created = httpx.post(base, headers=admin, json={"name": "acme", "data_policy": NO_TRAINING})
    assert created.status_code == 201, created.text
    account = created.json()["data"]
    assert account["data_policy"] == NO_TRAINING
    key = httpx.post(f"{base}/{account['id']}/keys", headers=admin, json={}).json()["data"]
    assert key["data_policy"] is None  # the key's own: none; the account's still applies

    assert _native_chat(gateway, key["key"], "gpt-4o-mini").status_code == 200
    refused = _refused_for_data_policy(_native_chat(gateway, key["key"], "gemini-2.0-flash"))
    assert refused["required"] == "no-training"

    # Changed through this process: the cached key holds to it from its very next request.
    changed = httpx.patch(
        f"{base}/{account['id']}",
        headers=admin,
        json={"data_policy": {"zero_retention": True}},
    )
    assert changed.json()["data"]["data_policy"] == {
        "zero_retention": True,
        "no_training": False,
        "regions": None,
    }
    refused = _refused_for_data_policy(_native_chat(gateway, key["key"], "gpt-4o-mini"))
    assert refused["required"] == "zero-retention"
    own = httpx.get(f"{gateway.url}/api/v1/account", headers=auth(key["key"])).json()["data"]
    assert own["data_policy"]["zero_retention"] is True

    # A PATCH without the field keeps it; null clears it, at once as well.
    kept = httpx.patch(f"{base}/{account['id']}", headers=admin, json={"plan": "usage"})
    assert kept.json()["data"]["data_policy"]["zero_retention"] is True
    cleared = httpx.patch(f"{base}/{account['id']}", headers=admin, json={"data_policy": None})
    assert cleared.json()["data"]["data_policy"] is None
    assert _native_chat(gateway, key["key"], "gemini-2.0-flash").status_code == 200
    listed = httpx.get(base, headers=admin).json()["data"]
    assert {a["name"]: a["data_policy"] for a in listed} == {"alice": None, "acme": None}
    assert (
        gateway.rows("SELECT data_policy FROM accounts WHERE id = ?", account["id"])[0][0] is None
    )


def test_a_key_requirement_narrows_its_account_and_refuses_through_the_sdk(
    gateway: RunningGateway,
) -> None:
    admin = auth(admin_key(gateway))
    account_id = httpx.get(f"{gateway.url}/admin/accounts", headers=admin).json()["data"][0]["id"]
    httpx.patch(
        f"{gateway.url}/admin/accounts/{account_id}",
        headers=admin,
        json={"data_policy": {"no_training": True, "regions": ["eu", "us"]}},
    ).raise_for_status()
    # The account holder makes a key of their own that also asks for zero retention and
    # only `eu`: the requirement its requests carry is both, combined.
    made = httpx.post(
        f"{gateway.url}/api/v1/account/keys",
        headers=auth(gateway.keys["alice"]),
        json={"name": "strict", "data_policy": {"zero_retention": True, "regions": ["EU"]}},
    )
    assert made.status_code == 201, made.text
    strict = made.json()["data"]
    assert strict["data_policy"] == {
        "zero_retention": True,
        "no_training": False,
        "regions": ["eu"],
    }
    listed = httpx.get(f"{gateway.url}/api/v1/account/keys", headers=auth(strict["key"]))
    by_id = {k["id"]: k for k in listed.json()["data"]}
    assert by_id[strict["id"]]["data_policy"] == strict["data_policy"]
    admin_listed = httpx.get(f"{gateway.url}/admin/accounts/{account_id}/keys", headers=admin)
    assert {k["id"]: k["data_policy"] for k in admin_listed.json()["data"]}[strict["id"]] == (
        strict["data_policy"]
    )
    # The account view shows the account's own requirement, not the calling key's.
    view = httpx.get(f"{gateway.url}/api/v1/account", headers=auth(strict["key"])).json()["data"]
    assert view["data_policy"] == {
        "zero_retention": False,
        "no_training": True,
        "regions": ["eu", "us"],
    }

    refused = _refused_for_data_policy(_native_chat(gateway, strict["key"], "gpt-4o-mini"))
    assert refused["required"] == "zero-retention, no-training, region=eu"
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=strict["key"], max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as denied:
        client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)  # type: ignore[arg-type]
    assert denied.value.status_code == 403 and denied.value.code == "forbidden_model"

    # Clearing the account's leaves the key's own: it still cannot loosen to gpt-4o-mini.
    httpx.patch(
        f"{gateway.url}/admin/accounts/{account_id}", headers=admin, json={"data_policy": None}
    ).raise_for_status()
    refused = _refused_for_data_policy(_native_chat(gateway, strict["key"], "gpt-4o-mini"))
    assert refused["required"] == "zero-retention, region=eu"
    # …while the account's other key, with none of its own, is free again.
    assert _native_chat(gateway, gateway.keys["alice"], "gpt-4o-mini").status_code == 200


BAD_REQUIREMENTS = (
    "zero-retention",
    ["no_training"],
    {"zero_retention": "yes"},
    {"no_training": 1},
    {"regions": "eu"},
    {"regions": []},
    {"regions": ["eu", 7]},
    {"regions": ["somewhere over the rainbow"]},
    {"regions": [f"r{i}x" for i in range(17)]},
    {"zero_retention": True, "retention_days": 0},
)


@pytest.mark.parametrize("bad", BAD_REQUIREMENTS, ids=repr)
def test_bad_requirements_are_refused_naming_the_field(gateway: RunningGateway, bad: Any) -> None:
    admin = auth(admin_key(gateway))
    account_id = httpx.get(f"{gateway.url}/admin/accounts", headers=admin).json()["data"][0]["id"]
    for method, url, headers, body in (
        ("PATCH", f"/admin/accounts/{account_id}", admin, {"data_policy": bad}),
        ("POST", "/admin/accounts", admin, {"name": "new", "data_policy": bad}),
        ("POST", f"/admin/accounts/{account_id}/keys", admin, {"data_policy": bad}),
        ("POST", "/api/v1/account/keys", auth(gateway.keys["alice"]), {"data_policy": bad}),
    ):
        response = httpx.request(method, f"{gateway.url}{url}", headers=headers, json=body)
        assert response.status_code == 400, (method, url, response.text)
        error = response.json()["error"]
        assert error["code"] == "validation_error" and error["details"]["param"] == "data_policy"
        assert "'data_policy" in error["message"]
        assert "rainbow" not in error["message"] and "retention_days" not in error["message"]
    # Nothing was changed or made by a refused request.
    accounts = httpx.get(f"{gateway.url}/admin/accounts", headers=admin).json()["data"]
    assert [(a["name"], a["data_policy"]) for a in accounts] == [("alice", None)]
    keys = httpx.get(f"{gateway.url}/admin/accounts/{account_id}/keys", headers=admin).json()
    assert len(keys["data"]) == 1


def test_an_empty_requirement_is_none(gateway: RunningGateway) -> None:
    admin = auth(admin_key(gateway))
    account_id = httpx.get(f"{gateway.url}/admin/accounts", headers=admin).json()["data"][0]["id"]
    for empty in ({}, {"zero_retention": False, "no_training": False, "regions": None}):
        changed = httpx.patch(
            f"{gateway.url}/admin/accounts/{account_id}", headers=admin, json={"data_policy": empty}
        )
        assert changed.status_code == 200 and changed.json()["data"]["data_policy"] is None
