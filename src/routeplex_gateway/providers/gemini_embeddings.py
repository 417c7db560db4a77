"""Gemini's embeddings (`POST {base}/v1beta/models/{model}:batchEmbedContents`): the
canonical request as batches of `EmbedContentRequest`s, the answers as canonical vectors.

Gemini takes at most 100 requests in one batch, so more inputs go as several batches, sent
together; their vectors are joined in the inputs' order. Gemini's API reports no usage for
embeddings (its `BatchEmbedContentsResponse` holds the vectors only): the response's usage is
then unknown, and the gateway settles the request on its own estimate, marked as one. (A
`usageMetadata.promptTokenCount`, as Vertex AI sends, is read when present.)

Only texts can be embedded: token ids are OpenAI's tokenizer's, which Gemini does not read
(routing keeps such requests away from Gemini models).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from ..canonical import EmbeddingRequest, EmbeddingResponse, Usage, Vector
from ..errors import validation
from .base import not_embeddings
from .gemini_translate import model_path

# Gemini refuses a batch of more ("at most 100 requests can be in one batch").
MAX_BATCH = 100

# Sends one batch's body; answers its parsed JSON object (None when it is not one).
BatchSender = Callable[[dict[str, Any]], Coroutine[Any, Any, dict[str, Any] | None]]


def batch_bodies(request: EmbeddingRequest, upstream_model: str) -> list[dict[str, Any]]:
    if request.has_tokens:
        raise validation(
            "Gemini models embed text only; send 'input' as strings, not token ids.", "input"
        )
    name = f"models/{model_path(upstream_model)}"
    requests: list[dict[str, Any]] = []
    for text in request.texts:
        one: dict[str, Any] = {"model": name, "content": {"parts": [{"text": text}]}}
        if request.dimensions is not None:
            one["outputDimensionality"] = request.dimensions
        requests.append(one)
    return [
        {"requests": requests[start : start + MAX_BATCH]}
        for start in range(0, len(requests), MAX_BATCH)
    ]


def _vectors(data: dict[str, Any] | None, provider: str, expected: int) -> list[Vector]:
    embeddings = data.get("embeddings") if data is not None else None
    if not isinstance(embeddings, list) or len(embeddings) != expected:
        raise not_embeddings(provider)
    vectors = []
    for embedding in embeddings:
        values = embedding.get("values") if isinstance(embedding, dict) else None
        if not isinstance(values, list):
            raise not_embeddings(provider)
        vectors.append(Vector(floats=values))
    return vectors


def _prompt_tokens(data: dict[str, Any] | None) -> int | None:
    usage = data.get("usageMetadata") if data is not None else None
    count = usage.get("promptTokenCount") if isinstance(usage, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else None


async def embed(
    request: EmbeddingRequest, upstream_model: str, provider: str, send: BatchSender
) -> EmbeddingResponse:
    bodies = batch_bodies(request, upstream_model)
    if len(bodies) == 1:
        answers = [await send(bodies[0])]
    else:
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(send(body)) for body in bodies]
        except* Exception as failed:  # the first batch's failure is the request's
            raise failed.exceptions[0] from None
        answers = [task.result() for task in tasks]
    vectors: list[Vector] = []
    counts: list[int | None] = []
    for body, data in zip(bodies, answers, strict=True):
        vectors += _vectors(data, provider, len(body["requests"]))
        counts.append(_prompt_tokens(data))
    known = all(c is not None for c in counts)
    usage = Usage(input_tokens=sum(c or 0 for c in counts), output_tokens=0) if known else Usage()
    return EmbeddingResponse(vectors=vectors, usage=usage, model=upstream_model)
