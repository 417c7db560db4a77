"""Validation against OpenAI's embeddings schemas (`CreateEmbeddingResponse`, `ErrorResponse`)
in tests/fixtures/openai-openapi/responses_embeddings.components.json.

A base64 answer is checked as the SDK reads it: its vectors decoded (little-endian float32)
to the arrays of numbers the schema describes.
"""

from __future__ import annotations

import base64
import json
import struct
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support.openai_schema import _with_nullable

_SPEC = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "openai-openapi"
    / "responses_embeddings.components.json"
)
_URI = "urn:openai:responses-embeddings-components"


@cache
def _validator(name: str) -> Draft202012Validator:
    spec = _with_nullable(json.loads(_SPEC.read_text()))
    registry: Registry[Any] = Registry().with_resource(
        _URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"{_URI}#/components/schemas/{name}"}, registry=registry)


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
    errors = sorted(_validator(schema).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
