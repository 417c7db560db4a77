"""The dashboard's data-policy controls, posted as a browser would (session cookie, CSRF
token): the operator's account form sets, shows and clears an account's requirement, which
holds for its keys' next request; the key forms (the account holder's and the operator's)
give a new key its own; bad regions are refused on the page, changing nothing."""

from __future__ import annotations

import re

import httpx

from tests.conftest import RunningGateway
from tests.dashboard.conftest import admin_key, csrf_of, sign_in

ASK = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "canary"}], "max_tokens": 5}


def _chat(gateway: RunningGateway, key: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(f"{gateway.url}/api/v1/chat", headers=headers, json=ASK, timeout=10)


def _account_api(gateway: RunningGateway, admin: str, account_id: str) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {admin}"}
    data: dict[str, object] = httpx.get(
        f"{gateway.url}/admin/accounts/{account_id}", headers=headers
    ).json()["data"]
    return data


def _checked(page: str, control: str) -> bool:
    tag = re.search(rf'<input id="{control}"[^>]*>', page)
    assert tag, control
    return " checked" in tag.group(0)


def test_operator_sets_shows_and_clears_an_account_requirement(gateway: RunningGateway) -> None:
    admin = admin_key(gateway)
    alice = gateway.keys["alice"]
    account_id = gateway.rows("SELECT id FROM accounts WHERE name = 'alice'")[0]["id"]
    path = f"/app/operator/accounts/{account_id}"
    assert _chat(gateway, alice).status_code == 200  # cached by this process from now
    with httpx.Client(base_url=gateway.url) as client:
        sign_in(client, admin)
        page = client.get(path).text
        assert re.search(r'data-field="data_policy">\s*none', page)
        assert not _checked(page, "account-zero-retention")
        form = {"csrf": csrf_of(page), "plan": "usage", "email": "", "regions": "eu, us"}

        saved = client.post(path, data={**form, "zero_retention": "on"})
        assert saved.status_code == 303 and saved.headers["location"].endswith("?saved=1")
        assert _account_api(gateway, admin, account_id)["data_policy"] == {
            "zero_retention": True,
            "no_training": False,
            "regions": ["eu", "us"],
        }
        refused = _chat(gateway, alice)  # at once: the form went through this process
        assert refused.status_code == 403
        assert refused.json()["error"]["details"]["reason"] == "data_policy"

        page = client.get(path).text
        assert "zero-retention, region=eu, region=us" in page
        assert _checked(page, "account-zero-retention")
        assert not _checked(page, "account-no-training")
        assert (
            'id="account-regions" name="regions" maxlength="400" autocomplete="off" value="eu, us"'
            in page
        )

        bad = client.post(path, data={**form, "no_training": "on", "regions": "eu, the moon"})
        assert bad.status_code == 400
        assert "data_policy.regions" in bad.text and "the moon" not in bad.text
        assert _account_api(gateway, admin, account_id)["data_policy"] == {
            "zero_retention": True,
            "no_training": False,
            "regions": ["eu", "us"],
        }

        # Unchecked and blank: the requirement is cleared, at once here too.
        cleared = client.post(path, data={**form, "regions": ""})
        assert cleared.status_code == 303
        assert _account_api(gateway, admin, account_id)["data_policy"] is None
        assert _chat(gateway, alice).status_code == 200


def test_key_forms_give_a_new_key_its_own_requirement(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway.url) as holder:
        sign_in(holder, gateway.keys["alice"])
        page = holder.get("/app/keys").text
        assert 'id="key-no-training"' in page and 'id="key-regions"' in page
        created = holder.post(
            "/app/keys",
            data={"csrf": csrf_of(page), "name": "strict", "no_training": "on", "regions": ""},
        )
        assert created.status_code == 200
        new_key = re.search(r'<code id="new-key">([^<]+)</code>', created.text)
        assert new_key
        row = re.search(r'<tr data-key-id="[^"]+">\s*<td>strict</td>.*?</tr>', created.text, re.S)
        assert row and 'data-field="data_policy">no-training</td>' in row.group(0)
        # gpt-4o-mini's provider does not train on traffic; it keeps it 30 days.
        assert _chat(gateway, new_key.group(1)).status_code == 200

        bad = holder.post(
            "/app/keys", data={"csrf": csrf_of(page), "name": "bad", "regions": "Über"}
        )
        assert bad.status_code == 400 and "data_policy.regions" in bad.text
        assert "Über" not in bad.text.replace('value="Über"', "")  # only in its own field
        assert "<td>bad</td>" not in bad.text

    admin = admin_key(gateway)
    account_id = gateway.rows("SELECT id FROM accounts WHERE name = 'alice'")[0]["id"]
    with httpx.Client(base_url=gateway.url) as operator:
        sign_in(operator, admin)
        page = operator.get(f"/app/operator/accounts/{account_id}").text
        created = operator.post(
            f"/app/operator/accounts/{account_id}/keys",
            data={"csrf": csrf_of(page), "name": "zdr", "zero_retention": "on"},
        )
        assert created.status_code == 200
        zdr = re.search(r'<code id="new-key">([^<]+)</code>', created.text)
        assert zdr
        refused = _chat(gateway, zdr.group(1))
        assert refused.status_code == 403
        assert refused.json()["error"]["details"]["required"] == "zero-retention"
    keys = httpx.get(
        f"{gateway.url}/admin/accounts/{account_id}/keys",
        headers={"Authorization": f"Bearer {admin}"},
    ).json()["data"]
    assert {k["name"]: k["data_policy"] for k in keys} == {
        None: None,
        "strict": {"zero_retention": False, "no_training": True, "regions": None},
        "zdr": {"zero_retention": True, "no_training": False, "regions": None},
    }
