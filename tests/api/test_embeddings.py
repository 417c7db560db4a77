"""`POST /v1/embeddings` end to end, with the official `openai` SDK over real sockets: OpenAI,
Gemini and OpenAI-compatible embedding models, floats and base64, `dimensions`, the metering
of each request (tokens, exact cost, one metadata row), and the refusals of what the gateway
does not serve. Every answer is checked against OpenAI's own `CreateEmbeddingResponse`, every
refusal against `ErrorResponse`.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from routeplex_gateway.app import create_app
from routeplex_gateway.config import ProviderConfig
from routeplex_gateway.metering.pricing import PICO
from routeplex_gateway.simulator.embedding_vectors import vector
from tests.conftest import RunningGateway, gateway_settings
from tests.support.accounts import create_account_with_key
from tests.support.embeddings_schema import assert_valid, floats_of
from tests.support.servers import serve_in_thread

TEXTS = ["the canary sings at dawn", "a second canary text"]
# USD per million input tokens (models.toml's sources).
PRICES = {
    "text-embedding-3-small": Decimal("0.02"),
    "gemini-embedding-001": Decimal("0.15"),
}


def sdk(gw: RunningGateway, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key or gw.keys["alice"], max_retries=0)


def post(gw: RunningGateway, body: Any, key: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{gw.url}/v1/embeddings",
        json=body,
        headers={"Authorization": f"Bearer {key or gw.keys['alice']}"},
        timeout=30,
    )


def raw_create(gw: RunningGateway, **params: Any) -> dict[str, Any]:
    """The gateway's JSON answer to the SDK's request, validated against OpenAI's schema."""
    answer = sdk(gw).embeddings.with_raw_response.create(**params).http_response.json()
    assert_valid(answer, "CreateEmbeddingResponse")
    return answer


def norm(values: list[float]) -> float:
    return math.sqrt(sum(v * v for v in values))


def test_openai_model_sdk_default_is_base64_decoded(gateway: RunningGateway) -> None:
    # The SDK asks for base64 when no format is given, and decodes it.
    reply = sdk(gateway).embeddings.create(model="text-embedding-3-small", input=TEXTS)
    assert [d.index for d in reply.data] == [0, 1]
    assert all(len(d.embedding) == 1536 for d in reply.data)
    assert reply.data[0].embedding == vector("text-embedding-3-small", TEXTS[0]).tolist()
    assert reply.data[0].embedding != reply.data[1].embedding
    assert abs(norm(reply.data[0].embedding) - 1) < 1e-5
    assert reply.usage.prompt_tokens == reply.usage.total_tokens > 0
    assert reply.model == "text-embedding-3-small"
    raw = raw_create(gateway, model="text-embedding-3-small", input=TEXTS)
    assert isinstance(raw["data"][0]["embedding"], str)
    assert floats_of(raw["data"][0]["embedding"]) == reply.data[0].embedding


def test_explicit_float_matches_base64_exactly(gateway: RunningGateway) -> None:
    floats = raw_create(
        gateway, model="text-embedding-3-small", input=TEXTS[0], encoding_format="float"
    )
    packed = raw_create(
        gateway, model="text-embedding-3-small", input=TEXTS[0], encoding_format="base64"
    )
    assert isinstance(floats["data"][0]["embedding"], list)
    assert floats["data"][0]["embedding"] == floats_of(packed["data"][0]["embedding"])
    extra = floats["x_routeplex"]
    assert extra["model_used"] == "text-embedding-3-small" and extra["provider"] == "openai"
    assert extra["usage_estimated"] is False


def test_dimensions_shorten_the_vectors(gateway: RunningGateway) -> None:
    client = sdk(gateway)
    short = client.embeddings.create(
        model="text-embedding-3-small", input=TEXTS[0], dimensions=256, encoding_format="float"
    )
    assert len(short.data[0].embedding) == 256
    assert abs(norm(short.data[0].embedding) - 1) < 1e-5
    gemini = client.embeddings.create(model="gemini-embedding-001", input=TEXTS, dimensions=768)
    assert [len(d.embedding) for d in gemini.data] == [768, 768]


def test_gemini_model_is_metered_on_the_estimate(gateway: RunningGateway) -> None:
    answer = raw_create(gateway, model="gemini-embedding-001", input=TEXTS, encoding_format="float")
    assert [len(d["embedding"]) for d in answer["data"]] == [3072, 3072]
    assert answer["data"][1]["embedding"] == vector("gemini-embedding-001", TEXTS[1]).tolist()
    # Gemini reports no usage: the gateway's estimate (four characters a token), never 0.
    expected = sum(math.ceil(len(t) / 4) for t in TEXTS)
    assert answer["usage"] == {"prompt_tokens": expected, "total_tokens": expected}
    assert answer["x_routeplex"]["usage_estimated"] is True
    (row,) = gateway.metadata(expect=1)
    assert row["usage_estimated"] == 1 and row["input_tokens"] == expected
    assert row["cost_picousd"] == expected * PRICES["gemini-embedding-001"] * PICO / 10**6


def test_gemini_floats_are_encoded_as_openai_base64(gateway: RunningGateway) -> None:
    # Gemini answers floats; the SDK asks for base64 by default: the gateway encodes them.
    raw = raw_create(gateway, model="gemini-embedding-001", input=TEXTS[1])
    assert isinstance(raw["data"][0]["embedding"], str)
    decoded = sdk(gateway).embeddings.create(model="gemini-embedding-001", input=TEXTS[1])
    assert decoded.data[0].embedding == vector("gemini-embedding-001", TEXTS[1]).tolist()


def test_more_inputs_than_one_gemini_batch_keep_their_order(gateway: RunningGateway) -> None:
    texts = [f"canary number {i}" for i in range(150)]  # Gemini takes 100 a batch
    reply = sdk(gateway).embeddings.create(
        model="gemini-embedding-001", input=texts, encoding_format="float"
    )
    assert len(reply.data) == 150
    for index in (0, 99, 100, 149):
        assert reply.data[index].index == index
        assert reply.data[index].embedding == vector("gemini-embedding-001", texts[index]).tolist()


def test_token_ids_are_counted_and_sent_to_openai(gateway: RunningGateway) -> None:
    answer = raw_create(
        gateway, model="text-embedding-3-small", input=[[1, 2, 3], [4, 5]], encoding_format="float"
    )
    assert answer["usage"]["prompt_tokens"] == 5
    one = raw_create(gateway, model="text-embedding-3-small", input=[7, 8, 9])
    assert len(one["data"]) == 1 and one["usage"]["prompt_tokens"] == 3


def test_each_request_is_one_metadata_row_with_exact_cost(gateway: RunningGateway) -> None:
    client = sdk(gateway)
    replies = [
        client.embeddings.create(model="text-embedding-3-small", input=TEXTS),
        client.embeddings.create(model="text-embedding-3-small", input=TEXTS[0]),
    ]
    refused = post(gateway, {"model": "text-embedding-3-small", "input": ""})
    assert refused.status_code == 400
    rows = gateway.metadata(expect=3)
    assert len(rows) == 3
    served = [r for r in rows if r["http_status"] == 200]
    for row, reply in zip(served, replies, strict=True):
        assert row["endpoint"] == "openai.embeddings"
        assert row["served_model"] == row["requested_model"] == "text-embedding-3-small"
        assert row["input_tokens"] == reply.usage.prompt_tokens and row["output_tokens"] == 0
        exact = reply.usage.prompt_tokens * PRICES["text-embedding-3-small"] * PICO / 10**6
        assert row["cost_picousd"] == exact and row["usage_estimated"] == 0
        cost = reply.model_dump()["x_routeplex"]["cost_usd"]
        assert Decimal(repr(cost)) == Decimal(row["cost_picousd"]) / PICO
    (refusal,) = [r for r in rows if r["http_status"] == 400]
    assert refusal["error_code"] == "validation_error" and refusal["input_tokens"] is None


def test_the_openai_compatible_servers_embedding_models(tmp_path: Path, simulator_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    settings = gateway_settings(
        data,
        providers=[
            ProviderConfig(
                name="local",
                base_url=f"{simulator_url}/v1",
                api_key="sk-local",
                embedding_models={"nomic-embed-text": 768},
            )
        ],
        models={"local/nomic-embed-text": {"input_per_mtok": "0.01"}},
    )
    key = create_account_with_key(settings, "ops")
    with serve_in_thread(create_app(settings)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        assert "local/nomic-embed-text" in [m.id for m in client.models.list()]
        reply = client.embeddings.create(model="local/nomic-embed-text", input=TEXTS)
        assert [len(d.embedding) for d in reply.data] == [768, 768]
        extra = reply.model_dump()["x_routeplex"]
        assert extra["provider"] == "local" and extra["model_used"] == "local/nomic-embed-text"
        exact = Decimal(reply.usage.prompt_tokens) * Decimal("0.01") / 10**6
        assert Decimal(repr(extra["cost_usd"])) == exact
        # It has no shorter vectors to give: refused before it is sent.
        with pytest.raises(openai.BadRequestError) as refused:
            client.embeddings.create(model="local/nomic-embed-text", input="x", dimensions=64)
        assert refused.value.body["param"] == "dimensions"  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "text-embedding-3-small"}, "input"),
        ({"input": "canary"}, "model"),
        ({"model": 3, "input": "canary"}, "model"),
        ({"model": "text-embedding-3-small", "input": ""}, "input"),
        ({"model": "text-embedding-3-small", "input": 5}, "input"),
        ({"model": "text-embedding-3-small", "input": []}, "input"),
        ({"model": "text-embedding-3-small", "input": ["canary", ""]}, "input[1]"),
        ({"model": "text-embedding-3-small", "input": ["canary", 7]}, "input[1]"),
        ({"model": "text-embedding-3-small", "input": [[1, 2], []]}, "input[1]"),
        ({"model": "text-embedding-3-small", "input": [1, -2]}, "input[1]"),
        ({"model": "text-embedding-3-small", "input": [True]}, "input[0]"),
        ({"model": "text-embedding-3-small", "input": [2**70]}, "input[0]"),
        ({"model": "text-embedding-3-small", "input": [[[[1]]]]}, "input[0][0]"),
        ({"model": "text-embedding-3-small", "input": {"text": "canary"}}, "input"),
        ({"model": "text-embedding-3-small", "input": "canary", "dimensions": 1.5}, "dimensions"),
        ({"model": "text-embedding-3-small", "input": ["canary"] * 2049}, "input"),
        ({"model": "text-embedding-3-small", "input": "canary", "encoding_format": "hex"}, None),
        ({"model": "text-embedding-3-small", "input": "canary", "dimensions": 0}, "dimensions"),
        ({"model": "text-embedding-3-small", "input": "canary", "dimensions": "8"}, "dimensions"),
        ({"model": "text-embedding-3-small", "input": "canary", "user": 5}, "user"),
        ({"model": "text-embedding-3-small", "input": "canary", "dimensions": 4096}, "dimensions"),
        ({"model": "text-embedding-ada-002", "input": "canary", "dimensions": 8}, "dimensions"),
        ({"model": "gemini-embedding-001", "input": [1, 2, 3]}, "input"),
        ({"model": "gpt-4o-mini", "input": "canary"}, "model"),
        ({"model": "routeplex-ai", "input": "canary"}, "model"),
        ({"model": "text-embedding-3-smal", "input": "canary"}, "model"),
        (["canary"], None),
    ],
)
def test_malformed_bodies_are_refused_naming_the_field(
    gateway: RunningGateway, body: Any, param: str | None
) -> None:
    refused = post(gateway, body)
    assert refused.status_code == 400
    assert_valid(refused.json(), "ErrorResponse")
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == (param or error["param"])
    if param is None and isinstance(body, dict):
        assert error["param"] == "encoding_format"
    assert "canary" not in refused.text


def test_a_chat_model_is_refused_with_the_embedding_models_named(gateway: RunningGateway) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(gateway).embeddings.create(model="gpt-4o-mini", input="canary")
    assert refused.value.code == "invalid_model"
    assert "is a chat model" in refused.value.message
    assert "Did you mean text-embedding-3-small" in refused.value.message
    # And the other way round: an embedding model does not chat, nor does routeplex-ai pick one.
    with pytest.raises(openai.BadRequestError) as chat:
        sdk(gateway).chat.completions.create(
            model="text-embedding-3-small", messages=[{"role": "user", "content": "canary"}]
        )
    assert "POST /v1/embeddings serves it" in chat.value.message
    auto = sdk(gateway).chat.completions.create(
        model="routeplex-ai",
        messages=[{"role": "user", "content": "canary"}],
        extra_headers={"X-RoutePlex-Debug": "true"},
    )
    routing = auto.model_dump()["x_routeplex"]["routing"]
    assert auto.model_dump()["x_routeplex"]["model_used"] in {
        c["model"] for c in routing["candidates"] if c.get("excluded") is None
    }
    assert all("embedding" not in c["model"] for c in routing["candidates"])


def test_embedding_models_are_listed_with_their_vectors(gateway: RunningGateway) -> None:
    listed = {m.id for m in sdk(gateway).models.list()}
    assert {"text-embedding-3-small", "gemini-embedding-001"} <= listed
    catalog = httpx.get(f"{gateway.url}/api/v1/models").json()["data"]
    small = next(m for m in catalog if m["id"] == "text-embedding-3-small")
    assert small["embedding"] == {"dimensions": 1536, "custom_dimensions": True}
    assert "embedding" not in next(m for m in catalog if m["id"] == "gpt-4o-mini")


def test_a_key_narrowed_to_other_models_is_refused(gateway: RunningGateway) -> None:
    key = gateway.add_account("narrow", allowed_models=["gpt-4o-mini"])
    with pytest.raises(openai.PermissionDeniedError) as refused:
        sdk(gateway, key).embeddings.create(model="text-embedding-3-small", input="canary")
    assert refused.value.code == "forbidden_model"
    assert_valid(refused.value.response.json(), "ErrorResponse")
    allowed = gateway.add_account("rag", allowed_models=["text-embedding-3-small"])
    reply = sdk(gateway, allowed).embeddings.create(model="text-embedding-3-small", input="x")
    assert len(reply.data) == 1
