"""Accounts: create, read, list, and refuse a duplicate name without quoting it."""

from __future__ import annotations

from datetime import UTC

import pytest

from routeplex_gateway.storage import AccountExists, StorageError, Store


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
