"""A gateway whose deployments have different data policies, on the shared simulator, and the
helpers the data-policy tests share: accounts and keys with a requirement, the simulator's
request log, metadata rows by request id.

Every configured endpoint speaks the simulator's OpenAI (or Anthropic) format; each serves
its own upstream model names (`mixed-eu`, `mixed-us`, …), so the request log and the
simulator's faults tell the deployments apart.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from routeplex_gateway.app import create_app
from routeplex_gateway.auth import issue_key
from routeplex_gateway.config import (
    DataPolicyConfig,
    DeploymentConfig,
    ModelOverride,
    ProviderConfig,
    Settings,
)
from routeplex_gateway.storage import Store
from tests.conftest import RunningGateway, assert_nothing_sent_was_stored, gateway_settings
from tests.support.servers import serve_in_thread

# Each configured endpoint's policy, and the label its answers carry.
POLICIES: dict[str, DataPolicyConfig | None] = {
    "eu-zdr": DataPolicyConfig(retention_days=0, trains_on_data=False, regions=["eu"]),
    "us-keeps": DataPolicyConfig(retention_days=30, trains_on_data=False, regions=["us"]),
    "trains": DataPolicyConfig(retention_days=0, trains_on_data=True, regions=["eu"]),
    "multi": DataPolicyConfig(retention_days=0, trains_on_data=False, regions=["us", "eu"]),
    "unknown": None,
}
LABELS = {
    "eu-zdr": "retention-days=0, training=no, region=eu",
    "us-keeps": "retention-days=30, training=no, region=us",
    "trains": "retention-days=0, training=yes, region=eu",
    "multi": "retention-days=0, training=no, region=eu, region=us",
    "unknown": "retention-days=unknown, training=unknown, region=unknown",
    "anthropic-eu": "retention-days=0, training=no, region=eu",
    # The built-in providers' published defaults (providers/descriptor.py).
    "openai": "retention-days=30, training=no, region=unknown",
    "anthropic": "retention-days=30, training=no, region=global",
    "google": "retention-days=55, training=unknown, region=global",
}
# `pol-mixed`: one deployment on each configured OpenAI-kind endpoint, by upstream name.
MIXED = {
    "eu-zdr": "mixed-eu",
    "us-keeps": "mixed-us",
    "trains": "mixed-trains",
    "multi": "mixed-multi",
    "unknown": "mixed-unknown",
}


def policy_settings(data_dir: Path, simulator_url: str, **overrides: Any) -> Settings:
    """The data-policy gateway's settings (see the module docstring)."""
    openai_url = f"{simulator_url}/v1"
    providers = [
        ProviderConfig(name=name, base_url=openai_url, api_key="k", data_policy=policy)
        for name, policy in POLICIES.items()
    ]
    providers.append(
        ProviderConfig(
            name="anthropic-eu",
            kind="anthropic",
            base_url=simulator_url,
            api_key="k",
            data_policy=DataPolicyConfig(retention_days=0, trains_on_data=False, regions=["eu"]),
        )
    )
    models = {
        # Served by every configured endpoint: the requirement alone decides which may serve.
        "pol-mixed": ModelOverride(
            provider="unknown",
            upstream_model=MIXED["unknown"],
            deployments=[
                DeploymentConfig(provider=name, upstream_model=upstream)
                for name, upstream in MIXED.items()
                if name != "unknown"
            ],
        ),
        # Fallbacks across policies: a → b (us-keeps) then c (eu-zdr); d → b only.
        "pol-a": ModelOverride(
            provider="eu-zdr", upstream_model="pol-a-eu", fallbacks=["pol-b", "pol-c"]
        ),
        "pol-b": ModelOverride(provider="us-keeps", upstream_model="pol-b-us"),
        "pol-c": ModelOverride(provider="eu-zdr", upstream_model="pol-c-eu"),
        "pol-d": ModelOverride(provider="eu-zdr", upstream_model="pol-d-eu", fallbacks=["pol-b"]),
        # A deployment of each kind whose own policy is set on the deployment, not the
        # endpoint: `unknown` made known for this model only.
        "pol-pinned": ModelOverride(
            provider="us-keeps",
            upstream_model="pinned-us",
            deployments=[
                DeploymentConfig(
                    provider="unknown",
                    upstream_model="pinned-eu",
                    data_policy=DataPolicyConfig(
                        retention_days=0, trains_on_data=False, regions=["eu"]
                    ),
                )
            ],
        ),
        # A model override's own policy over its endpoint's (unknown → zero retention).
        "pol-override": ModelOverride(
            provider="unknown",
            upstream_model="override-unknown",
            data_policy=DataPolicyConfig(retention_days=0),
        ),
        # Claude served by Anthropic (global) and an EU endpoint of Anthropic's format.
        "claude-haiku-4-5": ModelOverride(
            deployments=[
                DeploymentConfig(provider="anthropic-eu", upstream_model="claude-haiku-4-5-eu")
            ]
        ),
        # An older Claude whose EU deployment is an OpenAI-format endpoint's: it cannot serve
        # what only Anthropic's own API does.
        "claude-3-5-haiku-20241022": ModelOverride(
            deployments=[DeploymentConfig(provider="eu-zdr", upstream_model="claude-3-5-haiku-eu")]
        ),
        # Vectors from OpenAI and from two configured endpoints, under the same model name.
        "text-embedding-3-small": ModelOverride(
            deployments=[
                DeploymentConfig(provider="eu-zdr", upstream_model="text-embedding-3-small"),
                DeploymentConfig(provider="trains", upstream_model="text-embedding-3-small"),
            ]
        ),
    }
    return gateway_settings(data_dir, providers=providers, models=models, **overrides)


@dataclass
class PolicyGateway(RunningGateway):
    """A running data-policy gateway, with its accounts made on demand."""

    # One client for every call a test makes (making one costs tens of milliseconds).
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    _made: dict[tuple[str, str | None, str | None], str] = field(default_factory=dict)

    def account(
        self,
        name: str,
        *,
        account_policy: str | None = None,
        key_policy: str | None = None,
    ) -> str:
        """A key of a new account on the `unlimited` plan, the account's and the key's
        data-policy requirements set before the key is first used. Asked again with the same
        name and requirements, the same key (an account a test changes needs its own name)."""
        made = self._made.get((name, account_policy, key_policy))
        if made is not None:
            return made
        settings = gateway_settings(self.data_dir)

        async def create() -> str:
            store = await Store.open(settings.resolved_database_url)
            try:
                account = await store.get_account_by_name(name)
                if account is None:
                    account = await store.create_account(name, plan="unlimited")
                if account_policy is not None:
                    await store.update_account(account.id, data_policy=account_policy)
                plaintext, _ = await issue_key(store, account.id, data_policy=key_policy)
                return plaintext
            finally:
                await store.close()

        self.keys[name] = self._made[(name, account_policy, key_policy)] = in_thread(create)
        return self.keys[name]

    def row(self, request_id: str, timeout: float = 5.0) -> sqlite3.Row:
        """The metadata row of one request, once the batched writer has written it."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.rows("SELECT * FROM request_metadata WHERE request_id = ?", request_id)
            if rows or time.monotonic() > deadline:
                assert len(rows) == 1, f"{len(rows)} rows for {request_id}"
                return rows[0]
            time.sleep(0.05)

    def row_count(self) -> int:
        return int(self.rows("SELECT COUNT(*) AS n FROM request_metadata")[0]["n"])

    def upstream(self) -> list[dict[str, Any]]:
        """What reached the simulator since the last call (the log is emptied)."""
        seen: list[dict[str, Any]] = self.http.get(
            f"{self.simulator_url}/_simulator/requests"
        ).json()["requests"]
        self.http.delete(f"{self.simulator_url}/_simulator/requests")
        return seen

    def sent(self) -> list[tuple[str, str]]:
        """(path, upstream model) of each request the simulator received since the last
        call."""
        return [(r["path"], (r["body"] or {}).get("model", "")) for r in self.upstream()]

    def fault(self, **spec: Any) -> None:
        response = self.http.post(f"{self.simulator_url}/_simulator/faults", json=spec)
        assert response.status_code == 201, response.text


def in_thread(factory: Any) -> Any:
    # A thread of its own: a test may already be running inside an event loop.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, factory()).result()


def change_policy(
    gw: RunningGateway,
    account_name: str,
    *,
    account_policy: str | None = None,
    key_policy: str | None = None,
) -> None:
    """Change an account's requirement (and each of its keys', when `key_policy` is given)
    as an operator would, and wait for the gateway's key cache to see it."""
    settings = gateway_settings(gw.data_dir)

    async def update() -> None:
        store = await Store.open(settings.resolved_database_url)
        try:
            account = await store.get_account_by_name(account_name)
            assert account is not None
            if account_policy is not None:
                await store.update_account(account.id, data_policy=account_policy)
            if key_policy is not None:
                for key in await store.list_keys(account.id):
                    assert await store.set_key_data_policy(key.id, key_policy)
        finally:
            await store.close()

    in_thread(update)
    time.sleep(1.2)  # two key-cache refreshes (0.5 s each in tests)


@pytest.fixture(scope="module")
def policy_gw(
    tmp_path_factory: pytest.TempPathFactory, simulator_url: str
) -> Iterator[PolicyGateway]:
    """One data-policy gateway for a test module (its tests use their own accounts)."""
    data_dir = tmp_path_factory.mktemp("policy") / "data"
    data_dir.mkdir()
    settings = policy_settings(data_dir, simulator_url)
    running = PolicyGateway(url="", data_dir=data_dir, simulator_url=simulator_url)
    with serve_in_thread(
        create_app(settings, simulator_url=simulator_url), settings=settings
    ) as url:
        running.url = url
        with running.http:
            yield running
    assert_nothing_sent_was_stored(running)


@pytest.fixture
def fresh_gw(tmp_path: Path, simulator_url: str) -> Iterator[PolicyGateway]:
    """A data-policy gateway of the test's own: for faults and circuits, whose health board
    must start clean."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = policy_settings(data_dir, simulator_url)
    running = PolicyGateway(url="", data_dir=data_dir, simulator_url=simulator_url)
    with serve_in_thread(
        create_app(settings, simulator_url=simulator_url), settings=settings
    ) as url:
        running.url = url
        with running.http:
            yield running
    assert_nothing_sent_was_stored(running)


PROMPT = [{"role": "user", "content": "hello, where does this go? canary-policy"}]
HEADER = "X-RoutePlex-Data-Policy"


def chat(
    gw: PolicyGateway,
    key: str,
    model: str,
    *,
    policy: str | None = None,
    headers: dict[str, str] | None = None,
    **body: Any,
) -> httpx.Response:
    """`POST /v1/chat/completions`, with the requirement header when `policy` is given."""
    sent = {"Authorization": f"Bearer {key}", **(headers or {})}
    if policy is not None:
        sent[HEADER] = policy
    payload = {"model": model, "messages": PROMPT, "max_tokens": 16, **body}
    return gw.http.post(f"{gw.url}/v1/chat/completions", json=payload, headers=sent)


def served_by(reply: httpx.Response) -> str:
    """The endpoint that answered, after checking the answer names its policy."""
    assert reply.status_code == 200, reply.text
    provider: str = reply.json()["x_routeplex"]["provider"]
    assert reply.headers[HEADER] == LABELS[provider]
    return provider
