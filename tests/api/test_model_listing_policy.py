"""The model listings filtered by data policy, through the official SDKs over real sockets:
`GET /v1/models` (OpenAI's shape, and Anthropic's with `anthropic-version`) and
`GET /api/v1/models` list only the models one of whose deployments meets the requirement —
the `data_policy` query parameter, the `X-RoutePlex-Data-Policy` header and the key's and
account's own, all at once — and what they list is what a request can be served by.

The gateway's policies: the built-in providers' published defaults (OpenAI 30 days, no
training; Anthropic 30 days, no training, global; Google 55 days, training unknown, global),
OpenAI's regions configured as `us`, and one Anthropic model configured zero-retention in
the EU."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from routeplex_gateway.app import create_app
from tests.conftest import RunningGateway, assert_nothing_sent_was_stored, gateway_settings
from tests.support.accounts import create_account_with_key
from tests.support.policies import require_of_account
from tests.support.servers import serve_in_thread

EU_MODEL = "claude-haiku-4-5"
POLICIES: dict[str, Any] = {
    "data_policies": {"openai": {"regions": ["us"]}},
    "models": {EU_MODEL: {"data_policy": {"retention_days": 0, "regions": ["eu"]}}},
}
PROMPT = [{"role": "user", "content": "canary: which models may see this?"}]


@pytest.fixture
def policy_gateway(tmp_path: Path, simulator_url: str) -> Iterator[RunningGateway]:
    """Accounts: `alice` (nothing required; one of her keys requires no training) and
    `eu-only` (its account requires the EU)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = gateway_settings(data_dir, **POLICIES)
    running = RunningGateway(url="", data_dir=data_dir, simulator_url=simulator_url)
    running.keys["alice"] = create_account_with_key(settings, "alice")
    running.keys["no-training"] = create_account_with_key(
        settings, "alice", data_policy="no-training"
    )
    running.keys["eu"] = create_account_with_key(settings, "eu-only")
    require_of_account(settings, "eu-only", "region=eu")
    with serve_in_thread(
        create_app(settings, simulator_url=simulator_url), settings=settings
    ) as url:
        running.url = url
        yield running
    assert_nothing_sent_was_stored(running)


def _openai(gw: RunningGateway, key: str = "alice") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.keys[key], max_retries=0)


def _ids(gw: RunningGateway, key: str = "alice", **options: Any) -> list[str]:
    return [m.id for m in _openai(gw, key).models.list(**options)]


def _query(policy: str) -> dict[str, Any]:
    return {"extra_query": {"data_policy": policy}}


def _families(gw: RunningGateway) -> dict[str, set[str]]:
    """The catalog's model ids by provider family, from the unfiltered native listing."""
    families: dict[str, set[str]] = {}
    for model in httpx.get(f"{gw.url}/api/v1/models").json()["data"]:
        families.setdefault(model["provider"], set()).add(model["id"])
    return families


def test_openai_listing_keeps_only_models_meeting_the_policy(
    policy_gateway: RunningGateway,
) -> None:
    gw = policy_gateway
    families = _families(gw)
    every = _ids(gw)
    assert {"routeplex-ai", EU_MODEL} | families["openai"] | families["google"] <= set(every)

    assert _ids(gw, **_query("zero-retention")) == ["routeplex-ai", EU_MODEL]
    assert _ids(gw, **_query("region=eu")) == ["routeplex-ai", EU_MODEL]
    assert set(_ids(gw, **_query("region=us"))) == {"routeplex-ai"} | families["openai"]
    # Any of the regions named: OpenAI's `us` and the one EU model.
    assert set(_ids(gw, **_query("region=us, region=eu"))) == (
        {"routeplex-ai", EU_MODEL} | families["openai"]
    )
    # Google's training is unknown, and unknown never meets a requirement.
    no_training = set(_ids(gw, **_query("no-training")))
    assert no_training == set(every) - families["google"]
    assert set(_ids(gw, **_query("no-training,region=global"))) == (
        {"routeplex-ai"} | families["anthropic"]
    ) - {EU_MODEL}
    # Nothing meets it: nothing is listed, not even routeplex-ai (it would have no model).
    assert _ids(gw, **_query("zero-retention, region=us")) == []
    # The request header filters as the parameter does, and the two narrow each other.
    header = {"extra_headers": {"X-RoutePlex-Data-Policy": "region=eu"}}
    assert _ids(gw, **header) == ["routeplex-ai", EU_MODEL]
    both = {"extra_headers": {"X-RoutePlex-Data-Policy": "region=us"}, **_query("no-training")}
    assert set(_ids(gw, **both)) == {"routeplex-ai"} | families["openai"]


@pytest.mark.parametrize(
    ("options", "param"),
    [
        (_query("retention<30 please-canary"), "data_policy"),
        (_query("region=Europe West"), "data_policy"),
        ({"extra_headers": {"X-RoutePlex-Data-Policy": "cheap"}}, "X-RoutePlex-Data-Policy"),
    ],
    ids=["unknown-word", "bad-region", "bad-header"],
)
def test_a_bad_policy_is_a_400_in_openais_envelope(
    policy_gateway: RunningGateway, options: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        _openai(policy_gateway).models.list(**options)
    assert refused.value.status_code == 400
    error = refused.value.body
    assert isinstance(error, dict)
    assert error["code"] == "validation_error" and error["param"] == param
    assert "canary" not in error["message"] and "Europe West" not in error["message"]


def test_the_keys_and_accounts_requirement_filters_and_cannot_be_loosened(
    policy_gateway: RunningGateway,
) -> None:
    gw = policy_gateway
    # The account requires the EU: that is all it is shown, without asking.
    assert _ids(gw, "eu") == ["routeplex-ai", EU_MODEL]
    # A parameter narrows it, never widens it: the EU and the US together allow no region.
    assert _ids(gw, "eu", **_query("region=us")) == []
    assert _ids(gw, "eu", **_query("zero-retention")) == ["routeplex-ai", EU_MODEL]
    # A key's own requirement: as if every listing asked for it.
    assert _ids(gw, "no-training") == _ids(gw, **_query("no-training"))
    assert _ids(gw, "no-training") != _ids(gw)

    # What is listed is what can serve: the EU model answers, another is refused for it.
    eu = _openai(gw, "eu")
    served = eu.chat.completions.with_raw_response.create(
        model=EU_MODEL, messages=PROMPT, max_tokens=10
    )
    assert served.headers["X-RoutePlex-Data-Policy"] == "retention-days=0, training=no, region=eu"
    with pytest.raises(openai.PermissionDeniedError) as refused:
        eu.chat.completions.create(model="gpt-4o-mini", messages=PROMPT, max_tokens=10)
    assert refused.value.status_code == 403
    assert isinstance(refused.value.body, dict) and refused.value.body["code"] == "forbidden_model"


def test_anthropic_shaped_listing_is_filtered_and_paged_after(
    policy_gateway: RunningGateway,
) -> None:
    gw = policy_gateway
    client = anthropic.Anthropic(base_url=gw.url, api_key=gw.keys["alice"], max_retries=0)
    page = client.models.list(extra_query={"data_policy": "region=eu"})
    assert [m.id for m in page.data] == ["routeplex-ai", EU_MODEL]
    chat_openai = {
        m["id"]
        for m in httpx.get(f"{gw.url}/api/v1/models").json()["data"]
        if m["provider"] == "openai" and "embedding" not in m
    }
    us = client.models.list(extra_query={"data_policy": "region=us"}, limit=1000)
    assert {m.id for m in us.data} == {"routeplex-ai"} | chat_openai  # chat models only
    first = client.models.list(extra_query={"data_policy": "region=us"}, limit=2)
    assert [m.id for m in first.data] == [m.id for m in us.data][:2] and first.has_more
    # The account's requirement applies here too (the key in x-api-key, as the SDK sends it).
    eu = anthropic.Anthropic(base_url=gw.url, api_key=gw.keys["eu"], max_retries=0)
    assert [m.id for m in eu.models.list().data] == ["routeplex-ai", EU_MODEL]

    with pytest.raises(anthropic.BadRequestError) as refused:
        client.models.list(extra_query={"data_policy": "no-training, canary"})
    body = refused.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "canary" not in body["error"]["message"]


def test_native_listing_shows_each_deployments_policy_and_filters(
    policy_gateway: RunningGateway,
) -> None:
    gw = policy_gateway
    url = f"{gw.url}/api/v1/models"
    models = {m["id"]: m for m in httpx.get(url).json()["data"]}
    assert models[EU_MODEL]["data_policies"] == [
        {"provider": "anthropic", "retention_days": 0, "trains_on_data": False, "regions": ["eu"]}
    ]
    assert models["gpt-4o-mini"]["data_policies"] == [
        {"provider": "openai", "retention_days": 30, "trains_on_data": False, "regions": ["us"]}
    ]
    assert models["gemini-2.0-flash"]["data_policies"] == [
        {"provider": "google", "retention_days": 55, "trains_on_data": None, "regions": ["global"]}
    ]
    assert all(m["data_policies"] for m in models.values())

    def listed(**options: Any) -> list[str]:
        response = httpx.get(url, **options)
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["data"]]

    assert listed(params={"data_policy": "zero-retention"}) == [EU_MODEL]
    # Repeated, the parameter is one list (as the header's lines are): any of the regions…
    repeated = listed(params=[("data_policy", "region=us"), ("data_policy", "region=eu")])
    assert set(repeated) == {EU_MODEL} | {i for i, m in models.items() if m["provider"] == "openai"}
    # …and every condition.
    assert listed(params=[("data_policy", "zero-retention"), ("data_policy", "region=us")]) == []
    assert listed(headers={"X-RoutePlex-Data-Policy": "zero-retention"}) == [EU_MODEL]
    no_training = listed(params={"data_policy": "no-training"})
    assert set(no_training) == {i for i, m in models.items() if m["provider"] != "google"}
    # No key is needed; one that is sent is checked, and its account's requirement applies.
    assert listed(headers={"Authorization": f"Bearer {gw.keys['eu']}"}) == [EU_MODEL]
    assert listed(headers={"Authorization": f"Bearer {gw.keys['no-training']}"}) == no_training
    bad_key = httpx.get(url, headers={"Authorization": "Bearer rp_live_not-a-key"})
    assert bad_key.status_code == 401 and bad_key.json()["success"] is False

    refused = httpx.get(url, params={"data_policy": "region=eu, region=canary land"})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "validation_error" and error["details"] == {"param": "data_policy"}
    assert "canary" not in error["message"]
