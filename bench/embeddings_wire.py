"""OpenAI's embeddings wire as the harness speaks it: the request (a retrieval pipeline's
batch of a few short passages, as `client.embeddings.create` sends it: base64 vectors, the
SDK's default), the one fixed vector the mock answers with and its answers' bytes (built once
per shape asked: embeddings have no id to change per request), and the judge of an answer.

A "light" judge (what measured cells use) parses the answer and checks one vector came back
per input. A "full" one (what the check before measuring uses) also checks each vector's
index and that it is the mock's vector, exactly, in the length asked for, and the usage.
"""

from __future__ import annotations

import base64
import math
import struct
from functools import cache
from typing import Any

import orjson

EMBEDDING_MODEL = "text-embedding-3-small"
DIMENSIONS = 1536  # text-embedding-3-small's
INPUTS = (
    "Closed-loop load tests keep a fixed number of clients busy.",
    "Report p50 and p99 latency after a short warm-up.",
    "Compare against a direct baseline to isolate the proxy's overhead.",
    "Pin the server and the load generator to separate cores.",
)
TOKENS_PER_INPUT = 12  # what the mock reports each input as


def embeddings_body(*, model: str = EMBEDDING_MODEL, encoding: str = "base64") -> bytes:
    return orjson.dumps({"model": model, "input": list(INPUTS), "encoding_format": encoding})


@cache
def vector(dimensions: int) -> tuple[float, ...]:
    """The mock's vector: unit length, as OpenAI's are, each component a float32."""
    raw = [math.sin(i * 0.7 + 1.0) for i in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in raw))
    return struct.unpack(f"<{dimensions}f", packed)


@cache
def packed(dimensions: int) -> str:
    """`vector` as OpenAI's base64: little-endian float32."""
    values = vector(dimensions)
    return base64.b64encode(struct.pack(f"<{dimensions}f", *values)).decode()


def judge_embeddings(body: bytes, check: str) -> str | None:
    """None for a good `list` of one embedding per input of `INPUTS`, else a short reason."""
    try:
        data = orjson.loads(body)
        items = data["data"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return "malformed"
    if data.get("object") != "list" or not isinstance(items, list):
        return "malformed"
    if len(items) != len(INPUTS):
        return "wrong_count"
    if check != "full":
        first = items[0].get("embedding") if isinstance(items[0], dict) else None
        return None if isinstance(first, str | list) and first else "malformed"
    for index, item in enumerate(items):
        if not isinstance(item, dict) or item.get("index") != index:
            return "malformed"
        if not _is_the_vector(item.get("embedding")):
            return "wrong_content"
    usage = data.get("usage")
    if not isinstance(usage, dict) or not isinstance(usage.get("prompt_tokens"), int):
        return "no_usage"
    return None


def _is_the_vector(embedding: Any) -> bool:
    if isinstance(embedding, str):
        return embedding == packed(DIMENSIONS)
    return isinstance(embedding, list) and tuple(embedding) == vector(DIMENSIONS)


class EmbeddingAnswers:
    """OpenAI's embeddings `list`: one fixed vector (`embeddings_wire.vector`) per input, as
    JSON floats or base64, built once per shape asked — model, inputs, dimensions, encoding —
    and kept (a run asks one or two shapes)."""

    def __init__(self) -> None:
        self._built: dict[tuple[str, int, int, str], bytes] = {}

    def answer(self, model: str, inputs: int, dimensions: int, encoding: str) -> bytes:
        key = (model, inputs, dimensions, encoding)
        found = self._built.get(key)
        if found is None:
            if len(self._built) >= 64:  # bounded, whatever requests come in
                self._built.clear()
            one: str | list[float] = (
                packed(dimensions) if encoding == "base64" else list(vector(dimensions))
            )
            tokens = inputs * TOKENS_PER_INPUT
            found = orjson.dumps(
                {
                    "object": "list",
                    "data": [
                        {"object": "embedding", "index": i, "embedding": one} for i in range(inputs)
                    ],
                    "model": model,
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                }
            )
            self._built[key] = found
        return found
