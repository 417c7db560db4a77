"""Validation against OpenAI's own schemas (tests/fixtures/openai-openapi)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_SPECS = Path(__file__).resolve().parents[1] / "fixtures" / "openai-openapi"
_CHAT, _RESPONSES = "chat_completions", "responses_embeddings"


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
def _spec(spec_name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((_SPECS / f"{spec_name}.components.json").read_text())
    return loaded


@cache
def _validator(name: str, spec_name: str = _CHAT) -> Draft202012Validator:
    spec = _with_nullable(_spec(spec_name))
    uri = f"urn:openai:{spec_name}"
    registry: Registry[Any] = Registry().with_resource(
        uri, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"{uri}#/components/schemas/{name}"}, registry=registry)


def _violations(instance: Any, schema: str, spec_name: str) -> list[str]:
    errors = sorted(_validator(schema, spec_name).iter_errors(instance), key=lambda e: list(e.path))
    return [f"{list(e.path)}: {e.message}" for e in errors]


def assert_valid(instance: Any, schema: str) -> None:
    """Raise with every violation when `instance` does not validate against `schema`."""
    violations = _violations(instance, schema, _CHAT)
    assert not violations, violations


def assert_responses_valid(instance: Any, schema: str) -> None:
    """`assert_valid` against the Responses and embeddings schemas (`Response`,
    `ResponseStreamEvent`, `ErrorResponse`, …)."""
    violations = _violations(instance, schema, _RESPONSES)
    assert not violations, violations[:5]


def errors(schema: str, instance: Any) -> list[str]:
    """Every violation of `schema` by `instance`, as readable strings (empty when valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator(schema).iter_errors(instance)
    ]


def assert_all_valid(schema: str, *instances: Any) -> None:
    for instance in instances:
        assert_valid(instance, schema)


@cache
def _event_schemas() -> dict[str, str]:
    schemas = _spec(_RESPONSES)["components"]["schemas"]
    named: dict[str, str] = {}
    for ref in schemas["ResponseStreamEvent"]["anyOf"]:
        name = ref["$ref"].rsplit("/", 1)[-1]
        kind = schemas[name].get("properties", {}).get("type", {}).get("enum", [None])[0]
        if kind is not None:
            named[kind] = name
    return named


def assert_event_valid(event: Any) -> None:
    """One Responses stream event validated against the schema of its own `type` (whose
    errors are readable) and against `ResponseStreamEvent`."""
    name = _event_schemas().get(event.get("type"))
    assert name is not None, f"no such Responses stream event: {event.get('type')}"
    assert_responses_valid(event, name)
    assert_responses_valid(event, "ResponseStreamEvent")
