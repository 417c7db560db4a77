"""Non-streamed timeouts: the total grows with the output cap, and a call that timed out
after it was sent is not retried elsewhere (the provider may be generating it, and would
bill it twice) unless the operator opts in with `retry_started_timeouts`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from routeplex_gateway.app import create_app
from routeplex_gateway.canonical import Deployment
from routeplex_gateway.config import DeploymentConfig, ModelOverride, ProviderConfig
from routeplex_gateway.providers.base import completion_limits
from tests.conftest import gateway_settings
from tests.support.accounts import create_account_with_key
from tests.support.servers import serve_in_thread


def test_the_total_timeout_grows_with_the_output_cap() -> None:
    deployment = Deployment(
        provider="p",
        kind="anthropic",
        base_url="",
        api_key="",
        upstream_model="m",
        timeout_s=120,
        max_output_tokens=64_000,
    )
    # 64,000 tokens at the slowest allowed 50 tokens/s: 1,280 s on top of the 120 s.
    assert completion_limits(deployment, None).total == 120 + 1280
    assert completion_limits(deployment, 500).total == 120 + 10
    assert completion_limits(deployment, 50).total == 121


@pytest.mark.parametrize("opted_in", [False, True])
def test_a_started_call_that_times_out_is_retried_only_if_opted_in(
    tmp_path: Path, simulator_url: str, opted_in: bool
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    settings = gateway_settings(
        data,
        upstream_timeout_s=0.5,
        retry_started_timeouts=opted_in,
        providers=[
            ProviderConfig(
                name="backup", base_url=f"{simulator_url}/v1", api_key="k", timeout_s=0.5
            )
        ],
        models={
            "gpt-4o-mini": ModelOverride(
                deployments=[DeploymentConfig(provider="backup", upstream_model="gpt-4o-mini-b")]
            )
        },
    )
    key = create_account_with_key(settings, "alice")
    httpx.post(f"{simulator_url}/_simulator/faults", json={"model": "gpt-4o-mini", "hang": True})
    body: Any = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    with serve_in_thread(create_app(settings, simulator_url=simulator_url)) as url:
        # The two deployments are tried in random order; go on until the hung one was first.
        for _ in range(12):
            started = time.monotonic()
            reply = httpx.post(
                f"{url}/v1/chat/completions",
                timeout=30,
                headers={"Authorization": f"Bearer {key}"},
                json={**body, "max_tokens": 25},
            )
            assert time.monotonic() - started < 5
            if reply.status_code == 200 and reply.json()["x_routeplex"]["attempts"] == 1:
                continue  # the backup was tried first
            break
    if opted_in:
        assert reply.status_code == 200  # the hung call was given up and the backup answered
        assert reply.json()["x_routeplex"]["attempts"] == 2
    else:
        assert reply.status_code == 504  # no second call for an answer that may be on its way
        assert reply.json()["error"]["code"] == "provider_timeout"
        # …and the official SDKs are told not to make one either (they obey x-should-retry).
        assert reply.headers["x-should-retry"] == "false"
