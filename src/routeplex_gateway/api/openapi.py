"""`GET /openapi.json`: the OpenAPI 3.1 description of RoutePlex's HTTP API, generated.

The bodies are the typed schemas in `api/schemas/` — the same models that validate requests,
so what is described is what is checked — and the routes are `operations.OPERATIONS` (path
and method, summary, security, parameters, the statuses each answers); this module builds the
document from the two. It is built on first request, not at import time, and fuzzed against
a live gateway by `tests/fuzz`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from .. import __version__
from .operations import OPERATIONS, Auth, Dialect, Operation
from .schemas import anthropic_answers as ant
from .schemas.anthropic_answers import AnthropicError
from .schemas.envelopes import NativeError, OpenAIError
from .wire import json_response

_SECURITY: dict[Auth, list[dict[str, list[str]]]] = {
    "key": [{"apiKey": []}],
    "x-api-key": [{"apiKey": []}, {"anthropicKey": []}],
    "admin": [{"adminKey": []}],
    "none": [],
    "optional-key": [{}, {"apiKey": []}],  # anyone; a key that is sent is checked
    "probe": [{}, {"adminKey": []}],  # anyone; an admin key sees more
}
_ERRORS = {
    400: "Validation error, bad request, unknown model or mode, empty messages.",
    401: "Missing, invalid or expired key.",
    403: "The key may not use that model, or no deployment of it meets the data policy.",
    404: "No such resource.",
    413: "The body exceeds ROUTEPLEX_MAX_BODY_BYTES.",
    415: "The body is not JSON.",
    429: "A rate, concurrency, daily token, daily cost or failed-authentication limit; see "
    "Retry-After.",
    502: "The provider failed, or every provider in the fallback plan did.",
    503: "No provider is available, or usage cannot be recorded right now.",
    504: "The provider timed out.",
}
# The error envelope each dialect answers in.
_ENVELOPES: dict[Dialect, dict[str, Any]] = {
    "OpenAI": {"$ref": "#/components/schemas/OpenAIError"},
    "Anthropic": {"$ref": "#/components/schemas/AnthropicError"},
    "Either": {
        "anyOf": [
            {"$ref": "#/components/schemas/OpenAIError"},
            {"$ref": "#/components/schemas/AnthropicError"},
        ]
    },
    "Native": {"$ref": "#/components/schemas/NativeError"},
}
_SSE_EVENT = {
    "type": "object",
    "description": "One server-sent event; `data` is a JSON chunk, or `[DONE]` last.",
    "required": ["data"],
    "properties": {"data": {"type": "string"}, "event": {"type": "string"}},
}


_INFO = {
    "title": "RoutePlex",
    "version": __version__,
    "description": "A privacy-first AI gateway: the OpenAI dialect under /v1 (and Anthropic's "
    "Messages, at /v1/messages and for callers sending `anthropic-version`), the native dialect "
    "under /api/v1, the operator's API under /admin. Prompts and answers are never stored; see "
    "docs/design.md §4 in the repository. Errors use one set of RoutePlex codes in each "
    "dialect's envelope.",
    "license": {"name": "Apache-2.0"},
}
_SECURITY_SCHEMES = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: `Authorization: Bearer rp_live_…`.",
    },
    "anthropicKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "An API key as Anthropic's clients send it: `x-api-key: rp_live_…`.",
    },
    "adminKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An operator's admin key (`routeplex admin create-key`).",
    },
}
_TAGS = ("OpenAI dialect", "Anthropic dialect", "Native dialect", "Account", "Admin", "Operations")


def build() -> dict[str, Any]:
    """The description, from the schemas and `OPERATIONS`."""
    types: list[Any] = [OpenAIError, AnthropicError, NativeError]
    for op in OPERATIONS:
        types += [t for t in (op.answer, op.body) if t is not None and t is not str]
    inputs = [(index, "validation", TypeAdapter(t)) for index, t in enumerate(types)]
    roots, definitions = TypeAdapter.json_schemas(
        inputs,  # type: ignore[arg-type]
        ref_template="#/components/schemas/{model}",
    )
    schema_of = {id(t): roots[(index, "validation")] for index, t in enumerate(types)}
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, schema_of)
    responses = {
        f"{dialect}{status}": {
            "description": what,
            "content": {"application/json": {"schema": envelope}},
        }
        for dialect, envelope in _ENVELOPES.items()
        for status, what in _ERRORS.items()
    }
    document = {
        "openapi": "3.1.0",
        "info": _INFO,
        "servers": [{"url": "/"}],
        "security": _SECURITY["key"],
        "tags": [{"name": tag} for tag in _TAGS],
        # Untitled here only: the document's own `info.title` is required.
        "paths": _untitled(paths),
        "components": {
            "securitySchemes": _SECURITY_SCHEMES,
            "schemas": _untitled(definitions.get("$defs", {})),
            "responses": responses,
        },
    }
    return document


def _operation(op: Operation, schema_of: dict[int, Any]) -> dict[str, Any]:
    if op.answer is str:
        content: dict[str, Any] = {"text/plain": {"schema": {"type": "string"}}}
    else:
        answer = schema_of[id(op.answer)]
        if op.path.startswith(("/api/", "/admin/")):
            answer = {
                "type": "object",
                "required": ["success", "data"],
                "properties": {"success": {"const": True}, "data": answer},
            }
        content = {"application/json": {"schema": answer}}
    if op.streams:
        sse = ant.STREAM_EVENT if op.dialect == "Anthropic" else _SSE_EVENT
        content["text/event-stream"] = {"schema": sse}
    ok = {
        "description": "Created." if op.status == 201 else "OK",
        "content": content,
    }
    responses: dict[str, Any] = {str(op.status): ok}
    responses |= {str(s): ok for s in op.same_answer}
    responses |= {str(s): {"$ref": f"#/components/responses/{op.dialect}{s}"} for s in op.errors}
    operation: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "security": _SECURITY[op.auth],
        "responses": responses,
    }
    if op.description:
        operation["description"] = op.description
    if op.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema_of[id(op.body)]}},
        }
    if op.params:
        operation["parameters"] = list(op.params)
    return operation


def _untitled(schema: Any) -> Any:
    """`schema` without pydantic's `title` keywords: each component is named by its key."""
    if isinstance(schema, list):
        return [_untitled(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: _untitled(value)
        for key, value in schema.items()
        if key != "title" or not isinstance(value, str)
    }


@cache
def description() -> bytes:
    return orjson.dumps(build())


async def document(request: Request) -> Response:
    return json_response(description())
