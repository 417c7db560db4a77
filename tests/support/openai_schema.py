"""Validation against OpenAI's own schemas (tests/fixtures/openai-openapi)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_SPEC = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "openai-openapi"
    / "chat_completions.components.json"
)
_URI = "urn:openai:chat-components"


def _with_nullable(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` (kept in OpenAI's description) as JSON Schema 2020-12
    says it: the schema, or null. Real OpenAI chunks rely on it (`finish_reason: null`)."""
    if isinstance(node, list):
        return [_with_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _with_nullable(value) for key, value in node.items()}
    if converted.pop("nullable", False) is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def _validator(name: str) -> Draft202012Validator:
    spec = _with_nullable(json.loads(_SPEC.read_text()))
    registry: Registry[Any] = Registry().with_resource(
        _URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"{_URI}#/components/schemas/{name}"}, registry=registry)


def assert_valid(instance: Any, schema: str) -> None:
    """Raise with every violation when `instance` does not validate against `schema`."""
    errors = sorted(_validator(schema).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def errors(schema: str, instance: Any) -> list[str]:
    """Every violation of `schema` by `instance`, as readable strings (empty when valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator(schema).iter_errors(instance)
    ]


def assert_all_valid(schema: str, *instances: Any) -> None:
    for instance in instances:
        assert_valid(instance, schema)
