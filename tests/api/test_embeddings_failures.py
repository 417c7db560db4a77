"""`POST /v1/embeddings` when things go wrong, through the simulator's faults: a provider's
4xx is the caller's 4xx and is not retried, a 5xx falls back to the model's next deployment
(never to a model whose vectors are another length), a hung provider times out; the caller's
limits refuse embeddings like chat (rate, daily tokens). Every request — served, refused or
failed — is exactly one metadata row.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from routeplex_gateway.app import create_app
from routeplex_gateway.config import DeploymentConfig, ModelOverride, ProviderConfig
from tests.conftest import RunningGateway, gateway_settings
from tests.support.accounts import create_account_with_key
from tests.support.embeddings_schema import assert_valid
from tests.support.servers import serve_in_thread

MODEL = "text-embedding-3-small"


def fault(simulator_url: str, **spec: Any) -> None:
    assert httpx.post(f"{simulator_url}/_simulator/faults", json=spec).status_code == 201


def embedding_calls(simulator_url: str) -> int:
    log = httpx.get(f"{simulator_url}/_simulator/requests").json()["requests"]
    return sum(1 for entry in log if entry["path"].endswith("embeddings"))


def post(url: str, key: str, **body: Any) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/embeddings",
        json={"model": MODEL, "input": "the canary", **body},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


@pytest.fixture
def backed_up(tmp_path: Path, simulator_url: str) -> Iterator[RunningGateway]:
    """A gateway whose text-embedding-3-small has a second deployment ("backup"), with
    text-embedding-3-large (longer vectors) as its configured fallback, and a 1 s timeout."""
    data = tmp_path / "data"
    data.mkdir()
    settings = gateway_settings(
        data,
        upstream_timeout_s=1.0,
        providers=[
            ProviderConfig(
                name="backup", base_url=f"{simulator_url}/v1", api_key="sk-b", timeout_s=1.0
            )
        ],
        models={
            MODEL: ModelOverride(
                deployments=[DeploymentConfig(provider="backup")],
                fallbacks=["text-embedding-3-large"],
            ),
            "text-embedding-ada-002": ModelOverride(fallbacks=["text-embedding-3-small"]),
        },
    )
    running = RunningGateway(url="", data_dir=data, simulator_url=simulator_url)
    running.keys["alice"] = create_account_with_key(settings, "alice")
    with serve_in_thread(create_app(settings, simulator_url=simulator_url)) as url:
        running.url = url
        yield running


def test_a_provider_4xx_is_the_callers_and_is_not_retried(backed_up: RunningGateway) -> None:
    gw = backed_up
    httpx.delete(f"{gw.simulator_url}/_simulator/requests")
    fault(gw.simulator_url, model=MODEL, status=400, count=1)
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.keys["alice"], max_retries=2)
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model=MODEL, input="the canary")
    assert refused.value.code == "bad_request"
    assert_valid(refused.value.response.json(), "ErrorResponse")
    assert embedding_calls(gw.simulator_url) == 1  # neither the gateway nor the SDK retried
    (row,) = gw.metadata(expect=1)
    assert (row["http_status"], row["attempts"], row["input_tokens"]) == (400, 1, None)


def test_openais_refusal_of_a_long_input_is_the_callers_400(gateway: RunningGateway) -> None:
    refused = post(gateway.url, gateway.keys["alice"], input=["short", "canary " * 9000])
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["code"], error["param"]) == ("context_length_exceeded", "input")
    assert "maximum context length is 8192 tokens" in error["message"]  # OpenAI's own words
    assert "canary" not in refused.text


@pytest.mark.parametrize("model", [MODEL, "gemini-embedding-001"])
def test_an_input_too_long_is_the_callers_400_naming_input(
    backed_up: RunningGateway, model: str
) -> None:
    gw = backed_up
    fault(gw.simulator_url, model=model, status=400, code="context_length_exceeded", count=1)
    refused = post(gw.url, gw.keys["alice"], model=model)
    assert refused.status_code == 400
    assert_valid(refused.json(), "ErrorResponse")
    error = refused.json()["error"]
    assert (error["code"], error["param"]) == ("context_length_exceeded", "input")
    assert "shorten or split it" in error["message"]


@pytest.mark.parametrize(
    "failure",
    [{"status": 500}, {"malformed_after_chunks": 0}, {"cut_after_chunks": 0}],
    ids=["500", "malformed", "cut"],
)
def test_a_provider_failure_falls_back_to_the_next_deployment(
    backed_up: RunningGateway, failure: dict[str, Any]
) -> None:
    gw = backed_up
    fault(gw.simulator_url, model=MODEL, count=1, **failure)
    served = post(gw.url, gw.keys["alice"])
    assert served.status_code == 200
    assert_valid(served.json(), "CreateEmbeddingResponse")
    extra = served.json()["x_routeplex"]
    assert extra["attempts"] == 2 and extra["fallback_used"] is True
    assert extra["model_used"] == MODEL  # its other deployment, not the longer-vector fallback
    (row,) = gw.metadata(expect=1)
    assert (row["http_status"], row["attempts"], row["fallback_used"]) == (200, 2, 1)
    assert row["input_tokens"] > 0 and row["cost_picousd"] > 0


def test_a_fallback_model_answers_only_vectors_of_the_same_length(
    backed_up: RunningGateway,
) -> None:
    gw = backed_up
    # ada-002 falls back to 3-small (1536 both) …
    fault(gw.simulator_url, model="text-embedding-ada-002", status=503, count=1)
    served = post(gw.url, gw.keys["alice"], model="text-embedding-ada-002")
    assert served.status_code == 200
    assert served.json()["x_routeplex"]["model_used"] == MODEL
    assert len(served.json()["data"][0]["embedding"]) == 1536
    # … but 3-small never falls back to 3-large (3072): every deployment failing is a 502.
    fault(gw.simulator_url, model=MODEL, status=500, count=2)
    failed = post(gw.url, gw.keys["alice"])
    assert failed.status_code == 502
    assert_valid(failed.json(), "ErrorResponse")
    assert failed.json()["error"]["code"] == "all_providers_failed"
    rows = gw.metadata(expect=2)
    assert [r["http_status"] for r in rows] == [200, 502]
    assert rows[1]["served_model"] is None and rows[1]["cost_picousd"] is None


def test_a_hung_provider_times_out(backed_up: RunningGateway) -> None:
    gw = backed_up
    fault(gw.simulator_url, model="*", hang=True)
    answer = post(gw.url, gw.keys["alice"], model="gemini-embedding-001")
    assert answer.status_code == 504
    assert answer.json()["error"]["code"] == "provider_timeout"
    assert answer.headers.get("x-should-retry") == "false"
    (row,) = gw.metadata(expect=1)
    assert (row["http_status"], row["error_code"]) == (504, "provider_timeout")


def test_a_client_that_leaves_is_one_row_charged_the_estimate(backed_up: RunningGateway) -> None:
    gw = backed_up
    fault(gw.simulator_url, model="gemini-embedding-001", latency_ms=3000, count=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{gw.url}/v1/embeddings",
            json={"model": "gemini-embedding-001", "input": "the canary"},
            headers={"Authorization": f"Bearer {gw.keys['alice']}"},
            timeout=0.5,
        )
    (row,) = gw.metadata(expect=1)
    # The provider had the input, and bills it: the admission's bound, marked an estimate.
    assert (row["http_status"], row["usage_estimated"]) == (499, 1)
    assert row["input_tokens"] == len("the canary") + 1 and row["output_tokens"] == 0
    assert row["cost_picousd"] > 0


def test_rate_limit_and_daily_cap_refuse_embeddings(gateway: RunningGateway) -> None:
    trial = gateway.add_account("trial", plan="evaluation")  # 5 a minute, 20,000 tokens a day
    # 25,000 bytes of input: more than the day's tokens could hold, refused before it is sent.
    capped = post(gateway.url, trial, input=["canary " * 500] * 7)
    assert capped.status_code == 429
    assert capped.json()["error"]["code"] == "daily_limit_exceeded"
    assert_valid(capped.json(), "ErrorResponse")
    # A request refused for its cap used none of the minute's five.
    assert [post(gateway.url, trial).status_code for _ in range(5)] == [200] * 5
    refused = post(gateway.url, trial)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    rows = gateway.metadata(expect=7)
    assert len(rows) == 7
    assert [r["http_status"] for r in rows].count(429) == 2
    account = httpx.get(
        f"{gateway.url}/api/v1/account", headers={"Authorization": f"Bearer {trial}"}
    ).json()["data"]
    # Settled at the provider's count, not held at the reservation (the bytes of the input).
    assert 0 < account["today"]["tokens"] <= 5 * 2  # "the canary": two tokens


def test_a_cost_cap_refuses_what_it_could_not_pay_for(gateway: RunningGateway) -> None:
    # A millionth of a dollar a day: "the canary" (11 tokens reserved, $0.00000022) fits; a
    # hundred longer inputs (over 5,000 tokens reserved at $0.02 a million) do not.
    key = gateway.add_account("frugal", limits={"cost_per_day_usd": "0.000001"})
    assert post(gateway.url, key).status_code == 200
    refused = post(
        gateway.url, key, input=[f"canary input number {i:03d} " * 2 for i in range(100)]
    )
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert_valid(refused.json(), "ErrorResponse")
    rows = gateway.metadata(expect=2)
    assert [r["http_status"] for r in rows] == [200, 429]
