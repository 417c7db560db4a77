"""Accounts: create, read, list, update, delete, and refuse a duplicate name without quoting it."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from routeplex_gateway.storage import AccountExists, InvalidAccountName, StorageError, Store
from tests.storage.builders import at, metadata_record, new_key


async def test_create_and_read_back(store: Store) -> None:
    created = await store.create_account("acme", plan="pro", email="ops@acme.test")

    assert created.id.startswith("acc_") and len(created.id) == 20
    assert (created.name, created.plan, created.email) == ("acme", "pro", "ops@acme.test")
    assert created.disabled is False
    assert created.limits is None and created.settings is None
    assert created.created_at.tzinfo == UTC
    assert await store.get_account(created.id) == created
    assert await store.get_account_by_name("acme") == created


async def test_defaults_and_missing_accounts(store: Store) -> None:
    created = await store.create_account("solo")

    assert created.plan == "evaluation" and created.email is None
    assert await store.get_account("acc_ffffffffffffffff") is None
    assert await store.get_account_by_name("nobody") is None


async def test_list_accounts_by_name(store: Store) -> None:
    zed = await store.create_account("zed")
    alpha = await store.create_account("alpha")

    assert await store.list_accounts() == [alpha, zed]


async def test_duplicate_name_is_refused_without_quoting_it(store: Store) -> None:
    await store.create_account("secret-customer-name")

    with pytest.raises(AccountExists) as caught:
        await store.create_account("secret-customer-name")

    assert isinstance(caught.value, StorageError)
    assert "secret-customer-name" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert len(await store.list_accounts()) == 1


async def test_a_name_of_no_or_too_many_characters_is_refused(store: Store) -> None:
    for name in ("", "x" * 101):
        with pytest.raises(InvalidAccountName, match=r"^must be 1 to 100 characters$"):
            await store.create_account(name)
    assert (await store.create_account("x" * 100)).name == "x" * 100
    assert len(await store.list_accounts()) == 1


async def test_update_changes_only_the_given_fields(store: Store) -> None:
    created = await store.create_account("acme", plan="pro", email="ops@acme.test")
    other = await store.create_account("other")

    limited = await store.update_account(created.id, limits={"rpm": 600, "tokens_per_day": 10})
    assert limited is not None
    assert limited.limits == {"rpm": 600, "tokens_per_day": 10}
    assert (limited.plan, limited.email, limited.disabled) == ("pro", "ops@acme.test", False)
    assert (limited.name, limited.created_at) == (created.name, created.created_at)
    assert limited.updated_at > created.updated_at and limited.updated_at.tzinfo == UTC
    assert await store.get_account(created.id) == limited

    changed = await store.update_account(created.id, plan="team", email=None, disabled=True)
    assert changed is not None
    assert (changed.plan, changed.email, changed.disabled) == ("team", None, True)
    assert changed.limits == limited.limits  # not given, so kept
    assert await store.get_account(created.id) == changed

    # None is a value: it clears the overrides (the plan's limits apply again).
    cleared = await store.update_account(created.id, limits=None, disabled=False)
    assert cleared is not None and cleared.limits is None and cleared.disabled is False
    assert await store.get_account(other.id) == other


async def test_update_of_nothing_and_of_no_account(store: Store) -> None:
    created = await store.create_account("acme")

    assert await store.update_account(created.id) == created  # nothing given: nothing changes
    assert await store.update_account("acc_ffffffffffffffff", plan="pro") is None
    assert await store.update_account("acc_ffffffffffffffff") is None
    assert await store.list_accounts() == [created]


async def test_an_account_change_hands_its_keys_to_the_caches_again(store: Store) -> None:
    acme = await store.create_account("acme")
    other = await store.create_account("other")
    keys = [await new_key(store, acme), await new_key(store, acme)]
    await new_key(store, other)
    await asyncio.sleep(0.01)  # the mark must fall strictly after every creation
    mark = datetime.now(UTC)
    assert await store.keys_changed_since(mark) == []

    disabled = await store.update_account(acme.id, disabled=True)

    changed = await store.keys_changed_since(mark)
    assert [key for key, _ in changed] == keys
    assert all(owner == disabled for _, owner in changed)


async def test_delete_account_removes_it_and_its_keys_but_not_history(store: Store) -> None:
    acme = await store.create_account("acme")
    other = await store.create_account("other")
    acme_key = await new_key(store, acme)
    await store.revoke_key((await new_key(store, acme)).id)
    other_key = await new_key(store, other)
    day = date(2024, 3, 10)
    await store.insert_metadata(
        [metadata_record(account_id=acme.id, key_id=acme_key.id, created_at=at(day, 12))]
    )
    assert await store.append_billing_day(day) == 1

    assert await store.delete_account(acme.id) is True

    assert await store.get_account(acme.id) is None
    assert await store.list_accounts() == [other]
    assert await store.list_keys(acme.id) == []
    assert await store.find_key(acme_key.key_hash) is None
    assert await store.list_keys(other.id) == [other_key]
    # History holds ids only and is kept.
    assert len(await store.recent_metadata(acme.id)) == 1
    assert [row.account_id for row in await store.billing(account_id=acme.id, since=day)] == [
        acme.id
    ]
    assert await store.delete_account(acme.id) is False
    # The name is free again.
    assert (await store.create_account("acme")).id != acme.id


async def test_delete_account_while_others_write(store: Store, database_url: str) -> None:
    # The recorder writes all the time; deleting must wait for its turn, not fail.
    accounts = [await store.create_account(f"acme-{number}") for number in range(5)]
    for account in accounts:
        await new_key(store, account)
    writers = [await Store.open(database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(
            *(store.delete_account(account.id) for account in accounts),
            *(
                writer.insert_metadata([metadata_record() for _ in range(50)])
                for writer in writers
                for _ in range(5)
            ),
        )
    finally:
        for writer in writers:
            await writer.close()

    assert results[: len(accounts)] == [True] * len(accounts)
    assert await store.list_accounts() == []
