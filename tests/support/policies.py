"""Setting an account's data-policy requirement for tests, through the store as an operator's
command would."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from routeplex_gateway.config import Settings
from routeplex_gateway.storage import Store


def require_of_account(settings: Settings, name: str, label: str | None) -> None:
    """Store `label` (`no-training, region=eu`; None clears it) as the account's requirement."""

    async def update() -> None:
        store = await Store.open(settings.resolved_database_url)
        try:
            account = await store.get_account_by_name(name)
            assert account is not None, name
            assert await store.update_account(account.id, data_policy=label) is not None
        finally:
            await store.close()

    # A thread of its own: tests may already be running inside an event loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, update()).result()
