"""Validation against OpenAI's embeddings schemas (`CreateEmbeddingResponse`, `ErrorResponse`)
in tests/fixtures/openai-openapi/responses_embeddings.components.json.

A base64 answer is checked as the SDK reads it: its vectors decoded (little-endian float32)
to the arrays of numbers the schema describes.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from tests.support.openai_schema import assert_responses_valid


def floats_of(packed: str) -> list[float]:
    """OpenAI's base64 vector as its numbers."""
    raw = base64.b64decode(packed)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def assert_valid(instance: Any, schema: str) -> None:
    if schema == "CreateEmbeddingResponse" and isinstance(instance, dict):
        data = instance.get("data")
        if isinstance(data, list):
            instance = {
                **instance,
                "data": [
                    {**item, "embedding": floats_of(item["embedding"])}
                    if isinstance(item, dict) and isinstance(item.get("embedding"), str)
                    else item
                    for item in data
                ],
            }
    assert_responses_valid(instance, schema)
