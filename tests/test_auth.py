"""API keys: format and entropy, hash-only storage, revocation and expiry on the hot path."""

from __future__ import annotations

import base64
import time

import httpx
import openai
import pytest

from routeplex_gateway.auth import display_prefix, generate_key, hash_key, mask_key
from tests.conftest import RunningGateway, gateway_settings
from tests.support.accounts import create_account_with_key, revoke_key_by_plaintext


def test_key_format_and_entropy() -> None:
    keys = {generate_key() for _ in range(1000)}
    assert len(keys) == 1000
    for key in list(keys)[:50]:
        assert key.startswith("rp_live_")
        random_part = key[len("rp_live_") :]
        assert len(base64.urlsafe_b64decode(random_part + "=")) * 8 >= 128
    key = generate_key()
    assert hash_key(key) != key and len(hash_key(key)) == 64
    assert display_prefix(key) == key[:12]
    assert mask_key(key) == f"{key[:12]}…{key[-4:]}" and key not in mask_key(key)


def chat(gw: RunningGateway, key: str) -> httpx.Response:
    return httpx.post(
        f"{gw.url}/v1/chat/completions",
        timeout=10,
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    )


def test_only_the_hash_is_stored(gateway: RunningGateway) -> None:
    key = gateway.keys["alice"]
    assert chat(gateway, key).status_code == 200
    rows = gateway.rows("SELECT key_hash, display_prefix, last4 FROM api_keys")
    assert rows[0]["key_hash"] == hash_key(key)
    assert rows[0]["display_prefix"] == key[:12] and rows[0]["last4"] == key[-4:]
    assert key.encode() not in gateway.stored_bytes()
    assert key[12:-4].encode() not in gateway.stored_bytes()


def test_key_created_after_start_works_without_restart(gateway: RunningGateway) -> None:
    settings = gateway_settings(gateway.data_dir)
    key = create_account_with_key(settings, "bob")
    assert chat(gateway, key).status_code == 200


def test_revoked_key_is_refused_within_the_refresh_bound(gateway: RunningGateway) -> None:
    key = gateway.keys["alice"]
    assert chat(gateway, key).status_code == 200
    revoke_key_by_plaintext(gateway_settings(gateway.data_dir), key)
    revoked_at = time.monotonic()
    while chat(gateway, key).status_code == 200:
        assert time.monotonic() - revoked_at < 3, "revocation not applied in time"
        time.sleep(0.05)
    response = chat(gateway, key)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_expired_key_is_refused(gateway: RunningGateway) -> None:
    settings = gateway_settings(gateway.data_dir)
    key = create_account_with_key(settings, "carol", expires_in_days=1)
    assert chat(gateway, key).status_code == 200
    from tests.support.accounts import expire_key_now

    expire_key_now(settings, key)
    deadline = time.monotonic() + 3
    while chat(gateway, key).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    response = chat(gateway, key)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "expired_api_key"


# A provider's key pasted by habit: the commonest first mistake.
NOT_OURS = "sk-proj-canary-Zq81sXv0aB3c9dE4"


def test_a_key_that_is_not_a_routeplex_key_says_what_one_looks_like(
    gateway: RunningGateway,
) -> None:
    with pytest.raises(openai.AuthenticationError) as refused:
        openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=NOT_OURS, max_retries=0).models.list()
    native = httpx.post(
        f"{gateway.url}/api/v1/chat",
        headers={"Authorization": f"Bearer {NOT_OURS}"},
        json={"messages": [{"role": "user", "content": "hi"}]},
    )
    assert refused.value.status_code == native.status_code == 401
    assert refused.value.code == native.json()["error"]["code"] == "invalid_api_key"
    for message in (refused.value.message, native.json()["error"]["message"]):
        assert "RoutePlex keys start with rp_live_" in message
        assert "routeplex keys create" in message
    for body in (refused.value.response.text, native.text):
        assert NOT_OURS not in body and "canary" not in body
    # A key of the right shape that does not exist is simply invalid.
    unknown = chat(gateway, "rp_live_" + "x" * 43)
    assert unknown.status_code == 401 and "rp_live_" not in unknown.json()["error"]["message"]


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Token rp_live_x", "rp_live_x"])
def test_malformed_authorization(gateway: RunningGateway, header: str) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions", headers={"Authorization": header}, json={}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_unreadable_stored_limits_fall_back_to_the_plan() -> None:
    from datetime import UTC, datetime

    from routeplex_gateway.auth import _principal
    from routeplex_gateway.config import Settings
    from routeplex_gateway.limits.plans import Plans
    from routeplex_gateway.storage import Account, ApiKey

    now = datetime.now(UTC)
    account = Account(
        id="acc_1",
        name="a",
        email=None,
        plan="usage",
        limits={"cost_per_day_usd": "Infinity"},
        settings=None,
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    key = ApiKey(
        id="key_1",
        account_id="acc_1",
        name=None,
        key_hash="0" * 64,
        display_prefix="rp_live_abcd",
        last4="wxyz",
        created_at=now,
        updated_at=now,
        expires_at=None,
        revoked_at=None,
        allowed_models=None,
        last_used_day=None,
    )
    plans = Plans(Settings().all_plans)
    principal = _principal(key, account, plans)
    assert principal.policy.account == plans.limits("usage")
