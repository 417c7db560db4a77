"""The simulator's embeddings endpoints over a real socket: OpenAI's `POST /v1/embeddings`
(through the official SDK) and Gemini's `:batchEmbedContents`, with their validation, their
deterministic vectors of each model's length, and the same faults as chat."""

from __future__ import annotations

import json
import math
from typing import Any

import openai
import pytest

from routeplex_gateway.simulator.embedding_vectors import vector
from tests.simulator.conftest import Upstream
from tests.support.embeddings_schema import assert_valid, floats_of

GEMINI_KEY = {"x-goog-api-key": "AIza-test"}


def _norm(values: list[float]) -> float:
    return math.sqrt(sum(v * v for v in values))


def _gemini(
    upstream: Upstream, model: str, body: object, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    status, _, raw = upstream.call(
        "POST",
        f"/v1beta/models/{model}:batchEmbedContents",
        body,
        GEMINI_KEY if headers is None else headers,
    )
    return status, json.loads(raw)


def _requests(model: str, *texts: str, **extra: object) -> dict[str, object]:
    return {
        "requests": [
            {"model": f"models/{model}", "content": {"parts": [{"text": t}]}, **extra}
            for t in texts
        ]
    }


def test_openai_vectors_are_deterministic_unit_and_of_the_models_length(
    upstream: Upstream,
) -> None:
    client = upstream.client()
    first = client.embeddings.create(model="text-embedding-3-large", input=["a b", "c"])
    again = client.embeddings.create(model="text-embedding-3-large", input="a b")
    assert [len(d.embedding) for d in first.data] == [3072, 3072]
    assert first.data[0].embedding == again.data[0].embedding != first.data[1].embedding
    assert abs(_norm(first.data[0].embedding) - 1) < 1e-5
    assert first.usage.prompt_tokens == 3 and first.model == "text-embedding-3-large"
    ada = client.embeddings.create(model="text-embedding-ada-002", input=[[1, 2, 3]])
    assert len(ada.data[0].embedding) == 1536 and ada.usage.prompt_tokens == 3


def test_openai_float_and_base64_are_the_same_numbers(upstream: Upstream) -> None:
    body = {"model": "text-embedding-3-small", "input": "same", "dimensions": 64}
    status, _, raw = upstream.call(
        "POST", "/v1/embeddings", body, {"authorization": "Bearer sk-test"}
    )
    floats = json.loads(raw)
    _, _, packed = upstream.call(
        "POST",
        "/v1/embeddings",
        {**body, "encoding_format": "base64"},
        {"authorization": "Bearer sk-test"},
    )
    assert status == 200
    assert_valid(floats, "CreateEmbeddingResponse")
    assert_valid(json.loads(packed), "CreateEmbeddingResponse")
    assert floats["data"][0]["embedding"] == floats_of(json.loads(packed)["data"][0]["embedding"])
    assert len(floats["data"][0]["embedding"]) == 64
    assert abs(_norm(floats["data"][0]["embedding"]) - 1) < 1e-5  # shortened, then rescaled


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"input": "x"}, "you must provide a model parameter"),
        ({"model": "text-embedding-3-small"}, "'input' is a required property"),
        ({"model": "text-embedding-3-small", "input": ""}, "'$.input' is invalid"),
        ({"model": "text-embedding-3-small", "input": ["x"] * 2049}, "'$.input' is invalid"),
        ({"model": "text-embedding-3-small", "input": ["x", 1]}, "'$.input' is invalid"),
        (
            {"model": "text-embedding-ada-002", "input": "x", "dimensions": 8},
            "does not support specifying dimensions",
        ),
        (
            {"model": "text-embedding-3-small", "input": "x", "dimensions": 2000},
            "less than or equal to 1536",
        ),
        (
            {"model": "text-embedding-3-small", "input": "x", "encoding_format": "hex"},
            "Invalid value for 'encoding_format'",
        ),
    ],
)
def test_openai_refuses_what_openai_refuses(
    upstream: Upstream, body: dict[str, object], words: str
) -> None:
    status, _, raw = upstream.call(
        "POST", "/v1/embeddings", body, {"authorization": "Bearer sk-test"}
    )
    assert status == 400
    assert_valid(json.loads(raw), "ErrorResponse")
    assert words in json.loads(raw)["error"]["message"]


def test_openai_keys_and_faults_as_for_chat(upstream: Upstream) -> None:
    body = {"model": "text-embedding-3-small", "input": "x"}
    assert upstream.call("POST", "/v1/embeddings", body)[0] == 401
    bad = {"authorization": "Bearer sk-invalid"}
    assert upstream.call("POST", "/v1/embeddings", body, bad)[0] == 401
    upstream.add_fault(model="text-embedding-3-small", status=429, retry_after=3, count=1)
    with pytest.raises(openai.RateLimitError) as limited:
        upstream.client().embeddings.create(**body)  # type: ignore[arg-type]
    assert limited.value.response.headers["retry-after"] == "3"
    assert_valid(limited.value.response.json(), "ErrorResponse")
    upstream.add_fault(model="text-embedding-3-small", malformed_after_chunks=0, count=1)
    status, _, raw = upstream.call(
        "POST", "/v1/embeddings", body, {"authorization": "Bearer sk-test"}
    )
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)


def test_gemini_vectors_without_usage_truncated_on_request(upstream: Upstream) -> None:
    status, answer = _gemini(
        upstream, "gemini-embedding-001", _requests("gemini-embedding-001", "a", "b")
    )
    assert status == 200 and set(answer) == {"embeddings"}  # no usage, as Gemini's own
    full = answer["embeddings"][0]["values"]
    assert len(full) == 3072 and full == vector("gemini-embedding-001", "a").tolist()
    body = _requests("gemini-embedding-001", "a", outputDimensionality=768)
    _, short = _gemini(upstream, "gemini-embedding-001", body)
    assert short["embeddings"][0]["values"] == full[:768]  # truncated, not rescaled
    _, old = _gemini(upstream, "text-embedding-004", _requests("text-embedding-004", "a"))
    assert len(old["embeddings"][0]["values"]) == 768


@pytest.mark.parametrize(
    ("model", "body", "words"),
    [
        ("gemini-embedding-001", {"requests": []}, "requests must not be empty"),
        ("gemini-embedding-001", _requests("gemini-embedding-001", *["x"] * 101), "at most 100"),
        ("gemini-embedding-001", _requests("text-embedding-004", "x"), "must match"),
        ("gemini-embedding-001", _requests("gemini-embedding-001", ""), "must not be empty"),
        (
            "text-embedding-004",
            _requests("text-embedding-004", "x", outputDimensionality=8),
            "not supported",
        ),
        (
            "gemini-embedding-001",
            _requests("gemini-embedding-001", "x", outputDimensionality=4000),
            "between 1 and 3072",
        ),
    ],
)
def test_gemini_refuses_what_gemini_refuses(
    upstream: Upstream, model: str, body: dict[str, object], words: str
) -> None:
    status, answer = _gemini(upstream, model, body)
    assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT"
    assert words in answer["error"]["message"]


def test_gemini_keys_and_faults_as_for_chat(upstream: Upstream) -> None:
    body = _requests("gemini-embedding-001", "x")
    assert _gemini(upstream, "gemini-embedding-001", body, headers={})[0] == 403
    bad = {"x-goog-api-key": "sk-invalid"}
    status, answer = _gemini(upstream, "gemini-embedding-001", body, headers=bad)
    assert status == 400 and answer["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    upstream.add_fault(model="gemini-embedding-001", status=503, count=1)
    status, answer = _gemini(upstream, "gemini-embedding-001", body)
    assert status == 503 and answer["error"]["code"] == 503
    assert _gemini(upstream, "gemini-embedding-001", body)[0] == 200
