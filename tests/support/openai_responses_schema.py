"""Validation against OpenAI's own Responses API schemas
(tests/fixtures/openai-openapi/responses_embeddings.components.json): `Response`, each
`ResponseStreamEvent`, `ErrorResponse`, `CreateResponse`."""

from __future__ import annotations

import json
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
_URI = "urn:openai:responses-components"


@cache
def _validator(name: str) -> Draft202012Validator:
    spec = _with_nullable(_spec())
    registry: Registry[Any] = Registry().with_resource(
        _URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"{_URI}#/components/schemas/{name}"}, registry=registry)


@cache
def _spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_SPEC.read_text())
    return loaded


@cache
def event_schemas() -> dict[str, str]:
    """Each stream event type (`response.created`) → its schema's name: the branches of
    `ResponseStreamEvent`, by the one value their `type` allows."""
    schemas = _spec()["components"]["schemas"]
    named = {}
    for branch in schemas["ResponseStreamEvent"]["anyOf"]:
        name = branch["$ref"].rsplit("/", 1)[1]
        for kind in schemas[name]["properties"]["type"].get("enum", ()):
            named[kind] = name
    return named


def errors(schema: str, instance: Any) -> list[str]:
    """Every violation of `schema` by `instance`, as readable strings (empty when valid).
    `ResponseStreamEvent` is checked against the branch its `type` names, so a violation
    is reported as itself rather than as "matches none of 60 event types"."""
    if schema == "ResponseStreamEvent":
        kind = instance.get("type") if isinstance(instance, dict) else None
        if kind not in event_schemas():
            return [f"type: {kind!r} is not a Responses stream event"]
        schema = event_schemas()[kind]
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator(schema).iter_errors(instance)
    ]


def assert_valid(instance: Any, schema: str) -> None:
    """Raise with every violation when `instance` does not validate against `schema`."""
    problems = errors(schema, instance)
    assert not problems, problems[:20]
