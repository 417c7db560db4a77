"""Validation of an OpenAI-shaped chat request: the body checked against its schema
(`schemas/openai_chat.py` — the same models `/openapi.json` is generated from), how deep it
nests, and what the gateway reads from it. Fields the schema does not declare pass through
untouched. Error messages name the field and what it takes, never its value.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from ..canonical import ChatRequest
from ..errors import GatewayError, validation
from . import openai_decode
from .schemas import messages as message_schema
from .schemas import native as native_schema
from .schemas.openai_chat import ChatCompletionRequest, Sampling
from .schemas.refusal import check, check_value

ROLES = frozenset(message_schema.ROLES)
STRATEGIES = frozenset(native_schema.STRATEGIES)
# How deep any field may nest. Far beyond any real request (OpenAI caps a JSON schema at 10
# levels), and well below the 254 that JSON encoders take — past that, forwarding the body
# to a provider would fail after admission instead of being refused here.
MAX_NESTING = 64
# The request fields an error may name; any other name is the caller's and is not echoed.
_FIELDS = frozenset(ChatCompletionRequest.model_fields)
_MESSAGES: TypeAdapter[list[Any]] = TypeAdapter(message_schema.Messages)
# A tuple, not `dict | list`: that expression builds a union object at every check.
_CONTAINERS = (dict, list)


def validate_messages(messages: Any) -> None:
    """`messages` as every chat surface takes them, named `messages[i]…` in errors."""
    _messages_nesting(messages)
    check_value(_MESSAGES, messages, message_schema.Messages, "messages")


def _messages_nesting(messages: Any) -> None:
    if isinstance(messages, list):
        for index, message in enumerate(messages):
            if isinstance(message, dict) and _too_deep(message, MAX_NESTING - 2):
                raise _nested_too_deep(f"messages[{index}]")


def _too_deep(value: Any, limit: int) -> bool:
    """Whether containers nest more than `limit` levels inside `value` (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, _CONTAINERS):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def validate_nesting(body: dict[str, Any], fields: frozenset[str] = _FIELDS) -> None:
    """Refuse a body nested deeper than MAX_NESTING, naming the field (a message by its
    index; a field of the caller's own naming — not one of `fields` — only as "a field")."""
    for name, value in body.items():
        if not isinstance(value, _CONTAINERS):
            continue
        if name == "messages":
            _messages_nesting(value)
        elif _too_deep(value, MAX_NESTING - 1):
            raise _nested_too_deep(name if name in fields else None)


def _nested_too_deep(field: str | None) -> GatewayError:
    what = f"'{field}'" if field is not None else "A field of the request body"
    return validation(f"{what} nests more than {MAX_NESTING} levels deep.", field)


def validate_sampling(body: dict[str, Any]) -> None:
    """The sampling fields' types and ranges, checked alike by chat and by the estimate."""
    check(Sampling, body)


def validate_chat_body(body: Any) -> ChatRequest:
    """An OpenAI chat completions body → ChatRequest, or a validation GatewayError."""
    request = check(ChatCompletionRequest, body)
    validate_nesting(body)
    cap = request.max_completion_tokens
    return openai_decode.decode(
        body,
        stream=bool(request.stream),
        max_output_tokens=cap if cap is not None else request.max_tokens,
    )


def validate_strategy(value: Any, param: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in STRATEGIES:
        raise validation(f"'{param}' must be one of {', '.join(native_schema.STRATEGIES)}.", param)
    return value.lower()


def truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on")
