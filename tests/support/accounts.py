"""Creating accounts and keys for tests, through the same code the CLI uses."""

from __future__ import annotations

import asyncio

from routeplex_gateway.auth import issue_key
from routeplex_gateway.config import Settings
from routeplex_gateway.storage import Store


def create_account_with_key(
    settings: Settings, name: str, *, plan: str = "usage", **key_options: object
) -> str:
    async def create() -> str:
        store = await Store.open(settings.resolved_database_url)
        try:
            await store.migrate()
            account = await store.get_account_by_name(name)
            if account is None:
                account = await store.create_account(name, plan=plan)
            plaintext, _ = await issue_key(store, account.id, **key_options)  # type: ignore[arg-type]
            return plaintext
        finally:
            await store.close()

    # A thread of its own: tests may already be running inside an event loop.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, create()).result()


def create_admin_key(settings: Settings) -> str:
    """A new admin key (the database migrated first, as the gateway would)."""
    from routeplex_gateway.auth import issue_admin_key

    async def create() -> str:
        store = await Store.open(settings.resolved_database_url)
        try:
            await store.migrate()
            plaintext, _ = await issue_admin_key(store, name="test")
            return plaintext
        finally:
            await store.close()

    return _in_thread(create)  # type: ignore[return-value]


def _in_thread(coro_factory: object) -> object:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro_factory()).result()  # type: ignore[operator]


def revoke_key_by_plaintext(settings: Settings, plaintext: str) -> None:
    from routeplex_gateway.auth import hash_key

    async def revoke() -> None:
        store = await Store.open(settings.resolved_database_url)
        try:
            found = await store.find_key(hash_key(plaintext))
            assert found is not None
            assert await store.revoke_key(found[0].id)
        finally:
            await store.close()

    _in_thread(revoke)


def expire_key_now(settings: Settings, plaintext: str) -> None:
    """Move a key's expiry into the past, as time passing would."""
    import sqlite3
    from datetime import UTC, datetime, timedelta

    from routeplex_gateway.auth import hash_key

    path = settings.resolved_database_url.removeprefix("sqlite:///")
    past = datetime.now(UTC) - timedelta(seconds=1)
    with sqlite3.connect(path) as db:
        # Bump updated_at too, as any change to a key does, so the key cache reloads it.
        db.execute(
            "UPDATE api_keys SET expires_at = ?, updated_at = ? WHERE key_hash = ?",
            (
                past.strftime("%Y-%m-%d %H:%M:%S.%f"),
                datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
                hash_key(plaintext),
            ),
        )


def set_account_limits(gateway: object, name: str, limits: dict[str, object]) -> None:
    """Per-account limit overrides, as an operator would set them; waits for the gateway's
    key cache to see them."""
    import time

    from tests.conftest import gateway_settings

    settings = gateway_settings(gateway.data_dir)  # type: ignore[attr-defined]

    async def update() -> None:
        store = await Store.open(settings.resolved_database_url)
        try:
            account = await store.get_account_by_name(name)
            assert account is not None
            await store.update_account(account.id, limits=limits)
        finally:
            await store.close()

    _in_thread(update)
    time.sleep(1.2)  # two key-cache refreshes (0.5 s each in tests)
