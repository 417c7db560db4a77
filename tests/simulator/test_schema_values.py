"""Generated values conform to the schema they were generated from."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from routeplex_gateway.simulator.schema_values import value_for_schema

SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "properties": {}, "additionalProperties": False},
    {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 12, "maxLength": 20},
            "age": {"type": "integer", "minimum": 18, "maximum": 21},
            "score": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "ok": {"type": "boolean"},
            "unit": {"enum": ["celsius", "fahrenheit"]},
            "kind": {"const": "fixed"},
            "when": {"type": "string", "format": "date-time"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 3},
            "nested": {
                "type": "object",
                "properties": {"x": {"type": "integer", "multipleOf": 5}},
                "required": ["x"],
            },
            "maybe": {"type": ["string", "null"]},
            "optional": {"type": "string"},
        },
        "required": [
            "name",
            "age",
            "score",
            "ok",
            "unit",
            "kind",
            "when",
            "tags",
            "nested",
            "maybe",
        ],
        "additionalProperties": False,
    },
    {
        "$defs": {
            "point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
        },
        "type": "object",
        "properties": {
            "points": {"type": "array", "items": {"$ref": "#/$defs/point"}},
            "either": {"anyOf": [{"type": "null"}, {"type": "integer", "maximum": -5}]},
            "merged": {
                "allOf": [
                    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                    {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
                ]
            },
        },
        "required": ["points", "either", "merged"],
    },
    {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False},
    {"type": "number", "minimum": 2.25, "maximum": 2.5},
    {"type": "number", "multipleOf": 0.25, "minimum": 1},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_value_conforms(schema: dict[str, Any]) -> None:
    for seed in (b"a", b"b", b"c"):
        jsonschema.Draft202012Validator(schema).validate(value_for_schema(schema, seed))


def test_value_is_deterministic_and_seed_dependent() -> None:
    schema = SCHEMAS[1]
    assert value_for_schema(schema, b"x") == value_for_schema(schema, b"x")
    values = {str(value_for_schema(schema, bytes([n]))) for n in range(8)}
    assert len(values) > 1


def test_object_without_required_fills_every_property() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}}
    assert set(value_for_schema(schema, b"s")) == {"a", "b"}


def test_recursive_schema_terminates() -> None:
    schema = {
        "$defs": {"node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}},
        "$ref": "#/$defs/node",
    }
    jsonschema.Draft202012Validator(schema).validate(value_for_schema(schema, b"s"))
