"""The kinds of field the request schemas are built from, and what each takes in the words of
an error that names it.

A request field is declared once, with its type, its bounds and a `Takes`: pydantic validates
it, `/openapi.json` describes it, and a refusal says "'<field>' must be <what it takes>" from
the same declaration (`refusal.py`). Bodies are checked strictly — JSON's types as they are:
`true` is no integer, `"1"` no number — and a field that is null counts as absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field

from ...errors import ErrorCode


@dataclass(frozen=True, slots=True)
class Takes:
    """What a field takes, as a refusal names it: "'<field>' must be <what>." A field's bounds
    (`Field(ge=…, le=…)`) are added to `what` unless `bounded` is false. An error inside a
    field without a `Takes` of its own is reported at the nearest field with one — so a
    caller's own keys (a `metadata` key, a token id) are never named.

    `code` is the error code of any refusal of this field; `empty`, the code of a refusal
    for an empty array (`messages: []`)."""

    what: str
    code: ErrorCode = ErrorCode.VALIDATION_ERROR
    bounded: bool = True
    empty: ErrorCode | None = None
    required_for: str | None = None  # "… is required for user messages and must be …"


def _required_first(schema: dict[str, Any]) -> None:
    """Describe a body's required fields first (pydantic lists inherited fields first)."""
    required = schema.get("required", ())
    properties = schema.get("properties", {})
    schema["properties"] = {
        **{name: properties[name] for name in required if name in properties},
        **{name: value for name, value in properties.items() if name not in required},
    }


class RequestSchema(BaseModel):
    """A request body: validated strictly; fields it does not declare are left alone (the
    body forwarded is the caller's own, not this model)."""

    model_config = ConfigDict(strict=True, extra="ignore", json_schema_extra=_required_first)


class Shape(RequestSchema):
    """An object inside a request body (a message, a tool, …)."""


def json_kind(value: Any) -> str | None:
    """A value's JSON type, to choose the branch of a union by it: one branch is validated,
    not each in turn, and a refusal names the branch the caller meant."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return None


# The discriminator of a union whose branches are tagged with JSON types ("string",
# "object", "array"): a value of any other type is refused at the field itself.
BY_KIND = Discriminator(json_kind)


# Scalars as the error names them; a field adds its bounds with `Field(ge=…, le=…)`.
String = Annotated[str, Takes("a string")]
Boolean = Annotated[bool, Takes("a boolean")]
Integer = Annotated[int, Takes("an integer")]
Number = Annotated[float, Takes("a number")]
Object = Annotated[dict[str, Any], Takes("an object")]
JsonSchema = Annotated[dict[str, Any], Takes("an object (a JSON schema)")]
Strings = Annotated[list[str], Takes("an array of strings")]
PositiveInteger = Annotated[int, Field(ge=1), Takes("a positive integer", bounded=False)]
# A chat surface's `model`: each of them takes a model the same way.
ModelName = Annotated[
    str,
    Field(min_length=1, description="A catalog id or alias (GET /v1/models), or `routeplex-ai`."),
    Takes("a non-empty string"),
]
