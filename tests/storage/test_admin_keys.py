"""Admin keys: stored only as hashes, found by hash, revocable — on both backends."""

from __future__ import annotations

import hashlib

import pytest

from routeplex_gateway.storage import Store


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_admin_key_lifecycle(store: Store) -> None:
    key = await store.insert_admin_key(
        name="ops", key_hash=digest("a"), display_prefix="rp_admin_abc", last4="wxyz"
    )
    found = await store.find_admin_key(digest("a"))
    assert found == key and found.revoked_at is None
    assert await store.find_admin_key(digest("b")) is None
    assert [k.id for k in await store.list_admin_keys()] == [key.id]
    assert await store.revoke_admin_key(key.id)
    assert not await store.revoke_admin_key(key.id)
    revoked = await store.find_admin_key(digest("a"))
    assert revoked is not None and revoked.revoked_at is not None


async def test_admin_key_refuses_a_plaintext_key(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.insert_admin_key(
            name=None, key_hash="rp_admin_plaintext", display_prefix="rp_admin_pla", last4="text"
        )
