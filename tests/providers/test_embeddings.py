"""The embeddings translations of the OpenAI and Gemini providers, both ways: the bodies sent
for a canonical request, and what each provider's answer becomes (or the error it is)."""

from __future__ import annotations

import base64
import struct

import pytest

from routeplex_gateway.canonical import Deployment, EmbeddingRequest, Usage, Vector
from routeplex_gateway.errors import ErrorCode, GatewayError
from routeplex_gateway.providers import gemini_embeddings, openai_embeddings
from routeplex_gateway.providers.base import MAX_RESPONSE_BYTES


def _deployment(model: str) -> Deployment:
    return Deployment(
        provider="openai", kind="openai", base_url="http://x", api_key="k", upstream_model=model
    )


def test_openai_body_sends_only_what_was_given() -> None:
    plain = openai_embeddings.request_body(
        EmbeddingRequest(inputs=("a", (1, 2))), _deployment("text-embedding-3-small")
    )
    assert plain == {"model": "text-embedding-3-small", "input": ["a", [1, 2]]}
    full = openai_embeddings.request_body(
        EmbeddingRequest(inputs=("a",), dimensions=8, encoding_format="base64", user="u"),
        _deployment("m"),
    )
    assert full["dimensions"] == 8 and full["user"] == "u" and full["encoding_format"] == "base64"


def test_openai_answer_is_ordered_by_index_and_keeps_base64_packed() -> None:
    packed = base64.b64encode(struct.pack("<2f", 0.5, -0.25)).decode()
    answer = openai_embeddings.answer(
        {
            "data": [
                {"object": "embedding", "index": 1, "embedding": packed},
                {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
            ],
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 7, "total_tokens": 7},
        },
        "openai",
        2,
    )
    assert answer.vectors[0] == Vector(floats=[0.1, 0.2])
    assert answer.vectors[1].packed == packed and answer.vectors[1].as_floats() == [0.5, -0.25]
    assert answer.usage == Usage(input_tokens=7, output_tokens=0)
    no_usage = openai_embeddings.answer({"data": [{"index": 0, "embedding": [1.0]}]}, "local", 1)
    assert no_usage.usage.input_tokens is None  # unknown, never 0


@pytest.mark.parametrize(
    "body",
    [
        None,
        {"data": []},
        {"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}]},
        {"data": [{"index": 0, "embedding": [1.0]}, {"index": 5, "embedding": [1.0]}]},
        {"data": [{"index": 0, "embedding": 3}, {"index": 1, "embedding": [1.0]}]},
    ],
)
def test_openai_answer_that_is_not_one_vector_per_input_is_a_provider_error(
    body: dict[str, object] | None,
) -> None:
    with pytest.raises(GatewayError) as failed:
        openai_embeddings.answer(body, "openai", 2)
    assert failed.value.code is ErrorCode.PROVIDER_ERROR and failed.value.retryable


def test_vector_converts_between_floats_and_base64_exactly() -> None:
    floats = Vector(floats=[0.5, -0.25, 1.0])
    assert len(floats) == 3
    packed = Vector(packed=floats.as_base64())
    assert len(packed) == 3 and packed.as_floats() == [0.5, -0.25, 1.0]
    assert base64.b64decode(floats.as_base64()) == struct.pack("<3f", 0.5, -0.25, 1.0)


def test_gemini_batches_hold_100_requests_each() -> None:
    request = EmbeddingRequest(inputs=tuple(f"t{i}" for i in range(250)), dimensions=768)
    bodies = gemini_embeddings.batch_bodies(request, "gemini-embedding-001")
    assert [len(b["requests"]) for b in bodies] == [100, 100, 50]
    assert bodies[2]["requests"][-1] == {
        "model": "models/gemini-embedding-001",
        "content": {"parts": [{"text": "t249"}]},
        "outputDimensionality": 768,
    }
    with pytest.raises(GatewayError) as refused:
        gemini_embeddings.batch_bodies(EmbeddingRequest(inputs=((1, 2),)), "gemini-embedding-001")
    assert refused.value.param == "input"


def test_an_openai_answer_may_be_as_large_as_the_inputs_asked_for() -> None:
    # 2,048 vectors of text-embedding-3-large as JSON floats: some 130 MB, all legitimate.
    assert openai_embeddings.response_limit(2048) > 2048 * 3072 * 21
    assert openai_embeddings.response_limit(1) < 2 * MAX_RESPONSE_BYTES
