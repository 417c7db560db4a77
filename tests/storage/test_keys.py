"""API keys: stored by hash, listed, found with their account, revoked, polled, touched."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from routeplex_gateway.storage import Account, ApiKey, StorageError, Store
from tests.storage.builders import key_hash


async def _key(store: Store, account: Account, **overrides: object) -> ApiKey:
    fields: dict[str, object] = {
        "account_id": account.id,
        "name": "ci",
        "key_hash": key_hash(),
        "display_prefix": "rp_live_ab12",
        "last4": "wxyz",
        "expires_at": None,
        "allowed_models": None,
    }
    fields.update(overrides)
    return await store.insert_key(**fields)  # type: ignore[arg-type]


async def test_insert_list_and_find(store: Store) -> None:
    account = await store.create_account("acme")
    expires = datetime(2031, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
    first = await _key(store, account, allowed_models=["gpt-4o-mini", "openai/gpt-4o"])
    second = await _key(store, account, name=None, expires_at=expires)

    assert first.id.startswith("key_") and len(first.id) == 20
    assert first.allowed_models == ("gpt-4o-mini", "openai/gpt-4o")
    assert second.allowed_models is None
    assert await store.list_keys(account.id) == [first, second]

    found = await store.find_key(second.key_hash)
    assert found == (second, account)
    key, _ = found
    assert key.expires_at == expires and key.expires_at.tzinfo == UTC
    assert key.usable_at(datetime(2030, 1, 1, tzinfo=UTC))
    assert not key.usable_at(datetime(2032, 1, 1, tzinfo=UTC))
    assert await store.find_key(key_hash()) is None
    assert await store.list_keys("acc_ffffffffffffffff") == []


async def test_an_empty_allow_list_is_not_the_same_as_none(store: Store) -> None:
    account = await store.create_account("acme")
    key = await _key(store, account, allowed_models=[])

    assert (await store.list_keys(account.id))[0].allowed_models == () == key.allowed_models


async def test_only_hashes_are_accepted(store: Store) -> None:
    account = await store.create_account("acme")

    with pytest.raises(ValueError) as caught:
        await _key(store, account, key_hash="rp_live_" + "a" * 40)

    assert "rp_live_" not in str(caught.value)
    assert await store.list_keys(account.id) == []


async def test_a_key_needs_an_existing_account(store: Store) -> None:
    ghost = Account(
        id="acc_ffffffffffffffff",
        name="ghost",
        email=None,
        plan="evaluation",
        limits=None,
        settings=None,
        disabled=False,
        created_at=datetime.now(UTC),
        updated_at=datetime.now(UTC),
    )
    with pytest.raises(StorageError):
        await _key(store, ghost)


async def test_revoke(store: Store) -> None:
    acme = await store.create_account("acme")
    other = await store.create_account("other")
    key = await _key(store, acme)

    assert await store.revoke_key(key.id, account_id=other.id) is False
    assert await store.revoke_key("key_ffffffffffffffff") is False
    assert await store.revoke_key(key.id, account_id=acme.id) is True
    assert await store.revoke_key(key.id) is False

    found = await store.find_key(key.key_hash)
    assert found is not None
    revoked, _ = found
    assert revoked.revoked_at is not None and revoked.revoked_at.tzinfo == UTC
    assert revoked.updated_at == revoked.revoked_at > key.updated_at
    assert not revoked.usable_at(datetime.now(UTC))


async def test_keys_changed_since(store: Store) -> None:
    account = await store.create_account("acme")
    first = await _key(store, account)
    second = await _key(store, account)
    await asyncio.sleep(0.01)  # the mark must fall strictly after both creations
    mark = datetime.now(UTC)

    assert [key.id for key, _ in await store.keys_changed_since(None)] == [first.id, second.id]
    assert await store.keys_changed_since(mark) == []

    await store.revoke_key(first.id)
    third = await _key(store, account)

    changed = await store.keys_changed_since(mark)
    assert [key.id for key, _ in changed] == [first.id, third.id]
    assert all(owner == account for _, owner in changed)
    assert changed[0][0].revoked_at is not None


async def test_touch_last_used_moves_forward_only(store: Store) -> None:
    account = await store.create_account("acme")
    first = await _key(store, account)
    second = await _key(store, account)
    untouched = await _key(store, account)

    await store.touch_last_used({})
    await store.touch_last_used(
        {
            first.id: date(2024, 5, 2),
            second.id: date(2024, 5, 1),
            "key_ffffffffffffffff": date.today(),
        }
    )
    await store.touch_last_used({first.id: date(2024, 4, 30), second.id: date(2024, 5, 3)})

    days = {key.id: key.last_used_day for key in await store.list_keys(account.id)}
    assert days == {first.id: date(2024, 5, 2), second.id: date(2024, 5, 3), untouched.id: None}
    # Use is not a change the key caches must hear about.
    assert await store.keys_changed_since(untouched.updated_at + timedelta(microseconds=1)) == []
