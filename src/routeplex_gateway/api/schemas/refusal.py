"""A body checked against its schema, and pydantic's verdict as the gateway's refusal: the
field named as a JSON path (`messages[2].content`), what it takes said, the input never
quoted.

Pydantic's own message, `input` and `ctx` may carry what the caller sent (a value, a key of
theirs, a union tag taken from their `type`), so none of them is used: the error's location is
followed through the schema's declared types, and the message comes from the `Takes` of the
deepest field on that path that has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import NoneType, UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, Discriminator, Tag, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from ...errors import ErrorCode, GatewayError
from .fields import Takes

Model = TypeVar("Model", bound=BaseModel)
Value = TypeVar("Value")


def check(schema: type[Model], body: Any) -> Model:
    """`body` validated by `schema`, or the refusal naming its first fault."""
    try:
        return schema.model_validate(body)
    except ValidationError as error:
        raise refusal(error, schema) from None


def check_value(adapter: TypeAdapter[Value], value: Any, annotation: Any, path: str) -> Value:
    """A field checked on its own (`annotation`, the type `adapter` validates), named `path`."""
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        raise refusal(error, annotation, path) from None


def refusal(error: ValidationError, schema: Any, path: str = "") -> GatewayError:
    """The first fault of `error` as a validation GatewayError. A fault in a required field
    (a missing `model`, bad `messages`) goes before one in an optional field."""
    faults = error.errors(include_url=False, include_context=False)
    model = isinstance(schema, type) and issubclass(schema, BaseModel)
    fields = schema.model_fields if model else {}

    def rank(fault: ErrorDetails) -> bool:
        loc = fault["loc"]
        field = fields.get(loc[0]) if loc else None
        return not (field is not None and field.is_required())

    fault = min(faults, key=rank)
    loc = tuple(fault["loc"])
    found = _locate(schema, loc, path)
    if found is None:
        return GatewayError(ErrorCode.VALIDATION_ERROR, "The request body must be a JSON object.")
    param, takes, bounds, exact = found
    if takes.empty is not None and fault["type"] == "too_short":
        return GatewayError(takes.empty, f"'{param}' must not be empty.", param=param)
    what = takes.what + (bounds if takes.bounded else "")
    if exact and (fault["type"] == "missing" or fault.get("input", "") is None):
        why = f" for {takes.required_for}" if takes.required_for else ""
        return GatewayError(
            takes.code, f"'{param}' is required{why} and must be {what}.", param=param
        )
    return GatewayError(takes.code, f"'{param}' must be {what}.", param=param)


Found = tuple[str, Takes, str, bool]


@dataclass(frozen=True, slots=True)
class _Node:
    """A declared type as a refusal reads it: its `Takes` and bounds, and where a fault's
    location may lead from it — a model's fields (by name and alias), a list's items, or a
    discriminated union's branches (by tag)."""

    takes: Takes | None
    bounds: str
    fields: Mapping[str, _Node] | None = None
    item: _Node | None = None
    branches: Mapping[str, _Node] | None = None


def _locate(schema: Any, loc: tuple[str | int, ...], path: str) -> Found | None:
    """Follow `loc` from `schema` (named `path`): the deepest field on the way with a
    `Takes`, its name, its bounds, and whether the fault is that field's own (rather than
    inside it). A dict's keys are the caller's and a plain union's branches are not
    followed: a fault in either is reported at the field found so far."""
    node, found = _root(schema), None
    for depth, step in enumerate((*loc, None)):
        if node.takes is not None:
            found = (path, node.takes, node.bounds, depth == len(loc))
        if step is None:
            break
        if node.branches is not None and isinstance(step, str) and step in node.branches:
            node = node.branches[step]
        elif node.fields is not None and isinstance(step, str) and step in node.fields:
            path = f"{path}.{step}" if path else step
            node = node.fields[step]
        elif node.item is not None and isinstance(step, int):
            path = f"{path}[{step}]"
            node = node.item
        else:
            break
    return found


_ROOTS: dict[int, tuple[Any, _Node]] = {}  # the schemas checked, by id (kept alive here)


def _root(schema: Any) -> _Node:
    known = _ROOTS.get(id(schema))
    if known is None or known[0] is not schema:
        known = _ROOTS[id(schema)] = (schema, _node(schema, ()))
    return known[1]


def _node(annotation: Any, metadata: tuple[Any, ...]) -> _Node:
    """The node of `annotation` with its `metadata` (`Annotated` and `X | None` unwrapped)."""
    collected = list(metadata)
    while True:
        if get_origin(annotation) is Annotated:
            annotation, *extra = get_args(annotation)
            for item in extra:
                collected.extend(item.metadata if isinstance(item, FieldInfo) else (item,))
        elif get_origin(annotation) in (Union, UnionType) and NoneType in get_args(annotation):
            members = [arg for arg in get_args(annotation) if arg is not NoneType]
            if len(members) != 1:
                break
            annotation = members[0]
        else:
            break
    takes = next((m for m in reversed(collected) if isinstance(m, Takes)), None)
    bounds = _bounds(collected)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _Node(takes, bounds, fields=_fields(annotation))
    if get_origin(annotation) is list:
        return _Node(takes, bounds, item=_node(get_args(annotation)[0], ()))
    discriminated = any(isinstance(m, Discriminator) for m in collected)
    if discriminated and get_origin(annotation) in (Union, UnionType):
        branches = {}
        for member in get_args(annotation):
            tags = [m.tag for m in get_args(member)[1:] if isinstance(m, Tag)]
            branches[tags[0]] = _node(member, ())
        return _Node(takes, bounds, branches=branches)
    return _Node(takes, bounds)


@cache
def _fields(model: type[BaseModel]) -> Mapping[str, _Node]:
    fields = {}
    for name, field in model.model_fields.items():
        node = _node(field.annotation, tuple(field.metadata))
        fields[name] = fields[field.alias or name] = node
    return fields


def _bounds(metadata: list[Any]) -> str:
    low = next((m.ge for m in metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in metadata if isinstance(m, Le)), None)
    if any(isinstance(m, Gt | Lt) for m in metadata):
        raise TypeError("a schema bound is inclusive (ge, le), to be said as 'from … to …'")
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}"
    if high is not None:
        return f" of at most {high}"
    return ""
