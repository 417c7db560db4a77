"""Deterministic JSON values that conform to a JSON schema.

Used for tool-call arguments and structured output (`json_schema` response formats). The value
depends only on the schema and a seed, so the same request always gets the same arguments.

Supported: `type` (one or a list), `enum`, `const`, `$ref` to local `#/...` definitions,
`anyOf` / `oneOf` (the first non-null branch), `allOf` (merged), objects (every required
property — or every property when `required` is absent), arrays (`items`, `prefixItems`,
`minItems` / `maxItems`), strings (`minLength` / `maxLength` and common `format`s), numbers and
integers (`minimum` / `maximum`, exclusive bounds, `multipleOf`) and booleans. `pattern` is not
honoured: no regex inversion is attempted.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

# Deep or recursive schemas stop producing optional content past this depth.
MAX_DEPTH = 8

WORDS = (
    "amber",
    "harbor",
    "meadow",
    "summit",
    "lantern",
    "orchard",
    "quartz",
    "willow",
    "cobalt",
    "juniper",
    "pebble",
    "saffron",
)

FORMATTED_STRINGS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "duration": "PT1M",
}


def value_for_schema(schema: Mapping[str, Any], seed: bytes) -> Any:
    """A deterministic value valid against `schema` (within the supported keywords)."""
    return _Generator(schema, seed).value(schema, "$", 0)


class _Generator:
    def __init__(self, root: Mapping[str, Any], seed: bytes) -> None:
        self._root = root
        self._seed = seed

    def value(self, schema: Mapping[str, Any], path: str, depth: int) -> Any:
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            options: list[Any] = schema["enum"]
            return options[self._pick(path, len(options))]
        for keyword in ("anyOf", "oneOf"):
            branches = schema.get(keyword)
            if isinstance(branches, list) and branches:
                return self.value(self._first_non_null(branches), path, depth)
        if isinstance(schema.get("allOf"), list):
            return self.value(self._merge(schema), path, depth)
        kind = self._type(schema)
        if kind == "object":
            return self._object(schema, path, depth)
        if kind == "array":
            return self._array(schema, path, depth)
        if kind == "integer":
            return self._integer(schema, path)
        if kind == "number":
            return self._number(schema, path)
        if kind == "boolean":
            return self._pick(path, 2) == 0
        if kind == "null":
            return None
        return self._string(schema, path)

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while isinstance(schema.get("$ref"), str) and seen < MAX_DEPTH:
            target: Any = self._root
            for part in str(schema["$ref"]).removeprefix("#").strip("/").split("/"):
                if not part:
                    continue
                key = part.replace("~1", "/").replace("~0", "~")
                target = target.get(key, {}) if isinstance(target, Mapping) else {}
            schema = target if isinstance(target, Mapping) else {}
            seen += 1
        return schema

    def _first_non_null(self, branches: list[Any]) -> Mapping[str, Any]:
        for branch in branches:
            if isinstance(branch, Mapping) and self._resolve(branch).get("type") != "null":
                return branch
        first = branches[0]
        return first if isinstance(first, Mapping) else {}

    def _merge(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        properties: dict[str, Any] = dict(merged.get("properties", {}))
        required: list[str] = list(merged.get("required", []))
        for part in schema["allOf"]:
            if not isinstance(part, Mapping):
                continue
            part = self._resolve(part)
            properties.update(part.get("properties", {}))
            required.extend(name for name in part.get("required", []) if name not in required)
            for key, val in part.items():
                merged.setdefault(key, val)
        merged.pop("allOf", None)
        if properties:
            merged["properties"] = properties
        if required:
            merged["required"] = required
        return merged

    @staticmethod
    def _type(schema: Mapping[str, Any]) -> str:
        declared = schema.get("type")
        if isinstance(declared, list):
            non_null = [kind for kind in declared if kind != "null"]
            declared = non_null[0] if non_null else "null"
        if isinstance(declared, str):
            return declared
        if "properties" in schema or "required" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        return "string"

    def _object(self, schema: Mapping[str, Any], path: str, depth: int) -> dict[str, Any]:
        properties: Mapping[str, Any] = schema.get("properties") or {}
        required = schema.get("required")
        if isinstance(required, list):
            names = [name for name in required if isinstance(name, str)]
        else:
            names = list(properties) if depth < MAX_DEPTH else []
        result: dict[str, Any] = {}
        for name in names:
            sub = properties.get(name, {})
            sub = sub if isinstance(sub, Mapping) else {}
            result[name] = self.value(sub, f"{path}.{name}", depth + 1)
        return result

    def _array(self, schema: Mapping[str, Any], path: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        prefix_items: list[Any] = prefix if isinstance(prefix, list) else []
        minimum = int(schema.get("minItems", 0))
        maximum = schema.get("maxItems")
        length = max(minimum, len(prefix_items), 1 if depth < MAX_DEPTH else 0)
        if isinstance(maximum, int):
            length = min(length, maximum)
        items = schema.get("items")
        items_schema: Mapping[str, Any] = items if isinstance(items, Mapping) else {}
        values = []
        for index in range(length):
            sub = prefix_items[index] if index < len(prefix_items) else items_schema
            values.append(self.value(sub, f"{path}[{index}]", depth + 1))
        return values

    def _string(self, schema: Mapping[str, Any], path: str) -> str:
        text = FORMATTED_STRINGS.get(str(schema.get("format")))
        if text is None:
            text = WORDS[self._pick(path, len(WORDS))]
        min_length = int(schema.get("minLength", 0))
        if len(text) < min_length:
            text += "x" * (min_length - len(text))
        max_length = schema.get("maxLength")
        if isinstance(max_length, int):
            text = text[:max_length]
        return text

    def _integer(self, schema: Mapping[str, Any], path: str) -> int:
        low, high = self._bounds(schema, step=1)
        low_int, high_int = math.ceil(low), math.floor(high)
        multiple = schema.get("multipleOf")
        if isinstance(multiple, int) and multiple > 0:
            first = math.ceil(low_int / multiple) * multiple
            count = max((high_int - first) // multiple + 1, 1)
            return int(first + multiple * self._pick(path, count))
        return low_int + self._pick(path, max(high_int - low_int + 1, 1))

    def _number(self, schema: Mapping[str, Any], path: str) -> float | int:
        multiple = schema.get("multipleOf")
        if isinstance(multiple, int | float) and multiple > 0:
            low, high = self._bounds(schema, step=multiple)
            first = math.ceil(low / multiple)
            count = max(math.floor(high / multiple) - first + 1, 1)
            return (first + self._pick(path, count)) * multiple
        low, high = self._bounds(schema, step=0.5)
        # Half-steps give values such as 3.5: clearly a number, and exactly representable.
        steps = max(math.floor((high - low) * 2), 0)
        return low + self._pick(path, steps + 1) / 2

    @staticmethod
    def _bounds(schema: Mapping[str, Any], *, step: float) -> tuple[float, float]:
        low: float = 1
        high: float | None = None
        if isinstance(schema.get("minimum"), int | float):
            low = schema["minimum"]
        if isinstance(schema.get("exclusiveMinimum"), int | float):
            low = max(low, schema["exclusiveMinimum"] + step)
        if isinstance(schema.get("maximum"), int | float):
            high = schema["maximum"]
        if isinstance(schema.get("exclusiveMaximum"), int | float):
            limit = schema["exclusiveMaximum"] - step
            high = limit if high is None else min(high, limit)
        if high is None:
            high = low + 99
        low = min(low, high)
        return low, high

    def _pick(self, path: str, options: int) -> int:
        if options <= 1:
            return 0
        digest = hashlib.sha256(self._seed + path.encode()).digest()
        return int.from_bytes(digest[:8], "big") % options
