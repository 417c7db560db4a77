"""Request metadata written straight into a running gateway's database: usage a test cannot
make through the API (a surface not served here, a price not known), as the recorder would
have stored it."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from routeplex_gateway.storage import Store
from tests.conftest import gateway_settings
from tests.storage.builders import metadata_record


def store_records(data_dir: Path, account_name: str, *records: dict[str, Any]) -> None:
    """One metadata row per mapping of `records` (fields over `metadata_record`'s), of the
    account named `account_name`."""

    async def insert() -> None:
        store = await Store.open(gateway_settings(data_dir).resolved_database_url)
        try:
            account = await store.get_account_by_name(account_name)
            assert account is not None, account_name
            await store.insert_metadata(
                [metadata_record(**{**fields, "account_id": account.id}) for fields in records]
            )
        finally:
            await store.close()

    # A thread of its own: the test may already be running inside an event loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, insert()).result()
