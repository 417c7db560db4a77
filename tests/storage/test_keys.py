"""API keys: stored by hash, listed, found with their account, revoked, limited, polled, touched."""

from __future__ import annotations

import asyncio
import traceback
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from routeplex_gateway.storage import Account, StorageError, Store
from tests.storage.builders import key_hash, new_key


async def test_insert_list_and_find(store: Store) -> None:
    account = await store.create_account("acme")
    expires = datetime(2031, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
    first = await new_key(store, account, allowed_models=["gpt-4o-mini", "openai/gpt-4o"])
    second = await new_key(store, account, name=None, expires_at=expires)

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
    key = await new_key(store, account, allowed_models=[])

    assert (await store.list_keys(account.id))[0].allowed_models == () == key.allowed_models


async def test_only_hashes_are_accepted(store: Store) -> None:
    account = await store.create_account("acme")

    with pytest.raises(ValueError) as caught:
        await new_key(store, account, key_hash="rp_live_" + "a" * 40)

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
        await new_key(store, ghost)


async def test_revoke(store: Store) -> None:
    acme = await store.create_account("acme")
    other = await store.create_account("other")
    key = await new_key(store, acme)

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
    first = await new_key(store, account)
    second = await new_key(store, account)
    await asyncio.sleep(0.01)  # the mark must fall strictly after both creations
    mark = datetime.now(UTC)

    assert [key.id for key, _ in await store.keys_changed_since(None)] == [first.id, second.id]
    assert await store.keys_changed_since(mark) == []

    await store.revoke_key(first.id)
    third = await new_key(store, account)

    changed = await store.keys_changed_since(mark)
    assert [key.id for key, _ in changed] == [first.id, third.id]
    assert all(owner == account for _, owner in changed)
    assert changed[0][0].revoked_at is not None


async def test_touch_last_used_moves_forward_only(store: Store) -> None:
    account = await store.create_account("acme")
    first = await new_key(store, account)
    second = await new_key(store, account)
    untouched = await new_key(store, account)

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


LIMITS = {"tokens_per_day": 200_000, "cost_per_day_usd": 2.5, "rpm": 60, "concurrency": 4}


async def test_limits_are_stored_and_read_back(store: Store) -> None:
    account = await store.create_account("acme")
    capped = await new_key(store, account, limits=LIMITS)
    uncapped = await new_key(store, account)  # callers that predate limits keep working
    empty = await new_key(store, account, limits={})

    assert capped.limits == LIMITS
    assert uncapped.limits is None
    assert empty.limits == {}  # no caps of its own, stored as such: not the same as None
    assert await store.list_keys(account.id) == [capped, uncapped, empty]
    assert await store.find_key(capped.key_hash) == (capped, account)
    assert [key for key, _ in await store.keys_changed_since(None)] == [capped, uncapped, empty]


async def test_set_key_limits(store: Store) -> None:
    acme = await store.create_account("acme")
    other = await store.create_account("other")
    key = await new_key(store, acme)
    untouched = await new_key(store, acme, limits={"rpm": 5})
    await asyncio.sleep(0.01)  # the mark must fall strictly after both creations
    mark = datetime.now(UTC)

    assert await store.set_key_limits(key.id, LIMITS, account_id=other.id) is False
    assert await store.set_key_limits("key_ffffffffffffffff", LIMITS) is False
    assert await store.keys_changed_since(mark) == []

    assert await store.set_key_limits(key.id, LIMITS, account_id=acme.id) is True
    changed = await store.keys_changed_since(mark)
    assert [(changed_key.id, changed_key.limits) for changed_key, _ in changed] == [
        (key.id, LIMITS)
    ]
    assert changed[0][0].updated_at > key.updated_at

    # None clears the key's own caps; the others' stay as they were.
    assert await store.set_key_limits(key.id, None) is True
    limits = {listed.id: listed.limits for listed in await store.list_keys(acme.id)}
    assert limits == {key.id: None, untouched.id: {"rpm": 5}}


async def test_limits_that_are_not_json_are_refused_without_quoting_them(store: Store) -> None:
    account = await store.create_account("acme")
    key = await new_key(store, account)
    secret = Decimal("31415.9265")

    with pytest.raises(ValueError) as caught:
        await store.set_key_limits(key.id, {"cost_per_day_usd": secret})
    assert str(secret) not in "".join(traceback.format_exception(caught.value))
    with pytest.raises(ValueError):
        await new_key(store, account, limits={"cost_per_day_usd": secret})
    assert [listed.limits for listed in await store.list_keys(account.id)] == [None]
