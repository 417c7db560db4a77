"""The fuzz target: a live gateway whose only upstream is the echo upstream (which accepts
any body, so a 5xx is the gateway's own), one account on the `unlimited` plan (so no 429
hides a path), a `target` account the admin operations may change, and an admin key."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from routeplex_gateway.app import create_app
from routeplex_gateway.auth import FailedAttempts, issue_admin_key
from routeplex_gateway.config import ModelOverride, ProviderConfig
from routeplex_gateway.storage import Store
from tests.conftest import gateway_settings
from tests.privacy.upstream import create_echo_upstream
from tests.support.accounts import create_account_with_key
from tests.support.servers import serve_in_thread

ALL_CAPABILITIES = {"streaming": True, "tools": True, "vision": True, "json_schema": True}


@dataclass
class FuzzTarget:
    url: str
    key: str
    admin_key: str
    target_account: str  # an account the admin operations may change, disable or delete
    calls: int = 0


def _admin_key(settings: Any) -> tuple[str, str]:
    """An admin key, and the id of the `target` account."""

    async def issue() -> tuple[str, str]:
        store = await Store.open(settings.resolved_database_url)
        try:
            plaintext, _ = await issue_admin_key(store, name="fuzz")
            target = await store.get_account_by_name("target")
            assert target is not None
            return plaintext, target.id
        finally:
            await store.close()

    return asyncio.run(issue())


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    with serve_in_thread(create_echo_upstream()) as upstream:
        data = tmp_path_factory.mktemp("fuzz") / "data"
        settings = gateway_settings(
            data,
            simulate=False,
            providers=[
                ProviderConfig(name="fuzz", base_url=f"{upstream}/v1", api_key="k", models=["echo"])
            ],
            models={"fuzz/echo": ModelOverride(capabilities=ALL_CAPABILITIES)},
        )
        # Unlimited: every limit is counted and none refuses, so no 429 hides a path.
        key = create_account_with_key(settings, "fuzzer", plan="unlimited")
        create_account_with_key(settings, "target")
        admin_key, target = _admin_key(settings)
        app = create_app(settings)
        with serve_in_thread(app) as url:
            # Schemathesis checks that a missing key is refused, dozens of times; the
            # per-address failed-auth limit (tested in test_auth) would then refuse the rest.
            app.state.gateway.keys.failures = FailedAttempts(per_minute=1_000_000)
            yield FuzzTarget(url, key, admin_key, target)
