"""The operator's API: admin keys stored as hashes; accounts, plans, keys, usage, health."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx

from routeplex_gateway.app import create_app
from routeplex_gateway.auth import hash_key, issue_admin_key
from routeplex_gateway.storage import Store
from tests.conftest import RunningGateway, gateway_settings
from tests.support.accounts import create_account_with_key
from tests.support.servers import serve_in_thread


def admin_key(gw: RunningGateway) -> str:
    async def create() -> str:
        store = await Store.open(gateway_settings(gw.data_dir).resolved_database_url)
        try:
            plaintext, _ = await issue_admin_key(store, name="test")
            return plaintext
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, create()).result()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_admin_requires_an_admin_key(gateway: RunningGateway) -> None:
    assert httpx.get(f"{gateway.url}/admin/accounts").status_code == 401
    user = httpx.get(f"{gateway.url}/admin/accounts", headers=auth(gateway.keys["alice"]))
    assert user.status_code == 401 and user.json()["error"]["code"] == "invalid_api_key"
    key = admin_key(gateway)
    ok = httpx.get(f"{gateway.url}/admin/accounts", headers=auth(key))
    assert ok.status_code == 200 and ok.json()["success"] is True
    stored = gateway.stored_bytes()
    assert key.encode() not in stored and hash_key(key).encode() in stored


def test_manage_accounts_plans_and_keys(gateway: RunningGateway) -> None:
    key = admin_key(gateway)
    base = f"{gateway.url}/admin"
    plans = httpx.get(f"{base}/plans", headers=auth(key)).json()["data"]
    assert plans["evaluation"]["rpm"] == 5 and plans["unlimited"]["binding"] is False

    created = httpx.post(
        f"{base}/accounts",
        headers=auth(key),
        json={"name": "acme", "plan": "usage", "email": "ops@acme.test"},
    )
    assert created.status_code == 201
    account = created.json()["data"]
    assert account["plan"] == "usage" and account["limits"]["rpm"] == 30
    duplicate = httpx.post(f"{base}/accounts", headers=auth(key), json={"name": "acme"})
    assert duplicate.status_code == 400
    for name in ("", "x" * 101, 7):
        bad_name = httpx.post(f"{base}/accounts", headers=auth(key), json={"name": name})
        assert bad_name.status_code == 400
        assert bad_name.json()["error"]["details"]["param"] == "name"

    new_key = httpx.post(
        f"{base}/accounts/{account['id']}/keys", headers=auth(key), json={"name": "prod"}
    ).json()["data"]["key"]
    ask = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
    assert (
        httpx.post(
            f"{gateway.url}/v1/chat/completions", headers=auth(new_key), json=ask
        ).status_code
        == 200
    )

    changed = httpx.patch(
        f"{base}/accounts/{account['id']}",
        headers=auth(key),
        json={"plan": "evaluation", "limits": {"rpm": 2}},
    ).json()["data"]
    assert changed["plan"] == "evaluation" and changed["limits"]["rpm"] == 2
    bad = httpx.patch(f"{base}/accounts/{account['id']}", headers=auth(key), json={"plan": "gold"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"

    # Disabling the account refuses its keys at once in this process.
    httpx.patch(f"{base}/accounts/{account['id']}", headers=auth(key), json={"disabled": True})
    refused = httpx.post(f"{gateway.url}/v1/chat/completions", headers=auth(new_key), json=ask)
    assert refused.status_code == 401

    keys = httpx.get(f"{base}/accounts/{account['id']}/keys", headers=auth(key)).json()["data"]
    assert len(keys) == 1 and new_key not in str(keys)
    assert httpx.delete(f"{base}/keys/{keys[0]['id']}", headers=auth(key)).status_code == 200
    assert httpx.delete(f"{base}/accounts/{account['id']}", headers=auth(key)).status_code == 200
    assert httpx.get(f"{base}/accounts/{account['id']}", headers=auth(key)).status_code == 404


def test_usage_across_accounts_and_health(gateway: RunningGateway) -> None:
    key = admin_key(gateway)
    for who in ("alice", "bob"):
        user = gateway.keys.get(who) or gateway.add_account(who)
        httpx.post(
            f"{gateway.url}/v1/chat/completions",
            headers=auth(user),
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
        )
    gateway.metadata(expect=2)
    rows = httpx.get(f"{gateway.url}/admin/usage?days=1", headers=auth(key)).json()["data"]
    assert len({row["account_id"] for row in rows}) == 2
    health = httpx.get(f"{gateway.url}/admin/health", headers=auth(key)).json()["data"]
    assert any(d["model"] == "gpt-4o-mini" and d["state"] == "healthy" for d in health)


def test_failed_authentication_is_rate_limited_per_address(gateway: RunningGateway) -> None:
    bad = {"Authorization": "Bearer rp_live_wrong"}
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
    codes = [
        httpx.post(f"{gateway.url}/v1/chat/completions", headers=bad, json=body).status_code
        for _ in range(31)
    ]
    assert codes[:30] == [401] * 30 and codes[30] == 429
    # While blocked, bad keys from that address are refused outright; a valid key is served.
    blocked = httpx.post(f"{gateway.url}/v1/chat/completions", headers=bad, json=body)
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    served = httpx.post(
        f"{gateway.url}/v1/chat/completions", headers=auth(gateway.keys["alice"]), json=body
    )
    assert served.status_code == 200
    assert b"rp_live_wrong" not in gateway.stored_bytes()


def test_disabling_an_account_refuses_its_keys_at_once_here_and_soon_elsewhere(
    tmp_path: Path, simulator_url: str
) -> None:
    """Two gateways on one database. The one that disables the account refreshes its keys
    only every 60 s, so refusing the very next request can only come from the change itself;
    the other refreshes every 0.5 s and must refuse within that bound (plus a request)."""
    here = gateway_settings(tmp_path, key_refresh_s=60.0)
    elsewhere = gateway_settings(tmp_path, key_refresh_s=0.5)
    user = create_account_with_key(here, "acme")
    ask = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
    with ExitStack() as stack:
        a = stack.enter_context(serve_in_thread(create_app(here, simulator_url=simulator_url)))
        b = stack.enter_context(serve_in_thread(create_app(elsewhere, simulator_url=simulator_url)))
        gw = RunningGateway(url=a, data_dir=tmp_path, simulator_url=simulator_url)
        key = admin_key(gw)
        account = httpx.get(f"{a}/admin/accounts", headers=auth(key)).json()["data"][0]

        def chat(url: str) -> httpx.Response:
            return httpx.post(f"{url}/v1/chat/completions", headers=auth(user), json=ask)

        assert chat(a).status_code == 200 and chat(b).status_code == 200

        disabled = httpx.patch(
            f"{a}/admin/accounts/{account['id']}", headers=auth(key), json={"disabled": True}
        )
        assert disabled.status_code == 200
        disabled_at = time.monotonic()
        refused = chat(a)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "invalid_api_key"

        while (elsewhere_status := chat(b).status_code) == 200:
            assert time.monotonic() - disabled_at < 0.5 + 1.0, "still served elsewhere"
            time.sleep(0.05)
        assert elsewhere_status == 401

        # Enabling it again is as immediate here.
        httpx.patch(
            f"{a}/admin/accounts/{account['id']}", headers=auth(key), json={"disabled": False}
        )
        assert chat(a).status_code == 200
