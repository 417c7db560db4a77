"""The baseline of `bench.validation`: `api/validation.py` as it was before the request
schemas became typed models (commit 1306225), frozen here to be measured against them.

Lean validation of an OpenAI-shaped chat request: what the gateway relies on, and the
types of the fields it passes through (`field_types`), which a provider would otherwise
refuse after admission. Fields OpenAI does not define pass through untouched. Error
messages name the field, never its value.
"""

from __future__ import annotations

from typing import Any

from routeplex_gateway.canonical import ChatRequest
from routeplex_gateway.errors import ErrorCode, GatewayError, validation

from .hand_field_types import check_message_fields, check_request_fields

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
STRATEGIES = frozenset({"auto", "balanced", "cost", "speed", "quality"})
_MAX_TOKENS_CEILING = 10_000_000
# How deep any field may nest. Far beyond any real request (OpenAI caps a JSON schema at 10
# levels), and well below the 254 that JSON encoders take — past that, forwarding the body
# to a provider would fail after admission instead of being refused here.
MAX_NESTING = 64
# The request fields an error may name; any other name is the caller's and is not echoed.
_FIELDS = frozenset(
    {
        "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "messages", "metadata", "modalities", "model",
        "n", "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key",
        "reasoning_effort", "response_format", "safety_identifier", "seed", "service_tier",
        "stop", "store", "stream", "stream_options", "temperature", "tool_choice", "tools",
        "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
    }
)  # fmt: skip


def _int_field(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation(f"'{name}' must be an integer.", name)
    if not low <= value <= high:
        raise validation(f"'{name}' must be between {low} and {high}.", name)
    return value


def _number_field(body: dict[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise validation(f"'{name}' must be a number.", name)
    if not low <= value <= high:
        raise validation(f"'{name}' must be between {low} and {high}.", name)


def validate_messages(messages: Any) -> None:
    if messages is None:
        raise validation("'messages' is required.", "messages")
    if not isinstance(messages, list):
        raise validation("'messages' must be an array of message objects.", "messages")
    if not messages:
        raise GatewayError(
            ErrorCode.EMPTY_MESSAGES, "'messages' must not be empty.", param="messages"
        )
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise validation(f"'{where}' must be an object.", where)
        if _too_deep(message, MAX_NESTING - 2):  # before its fields: their checks would recurse
            raise _nested_too_deep(where)
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise validation(
                f"'{where}.role' must be one of {', '.join(sorted(ROLES))}.", f"{where}.role"
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise validation(
                f"'{where}.content' must be a string or an array of parts.", f"{where}.content"
            )
        if isinstance(content, list):
            for part_index, part in enumerate(content):
                if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                    raise validation(
                        f"'{where}.content[{part_index}]' must be an object with a 'type'.",
                        f"{where}.content[{part_index}]",
                    )
        tool_calls = message.get("tool_calls")
        if tool_calls is not None and not (
            isinstance(tool_calls, list) and all(isinstance(call, dict) for call in tool_calls)
        ):
            raise validation(
                f"'{where}.tool_calls' must be an array of tool call objects.",
                f"{where}.tool_calls",
            )
        if content is None and role == "user":
            raise validation(
                f"'{where}.content' is required for user messages.", f"{where}.content"
            )
        check_message_fields(message, where)


def _too_deep(value: Any, limit: int) -> bool:
    """Whether containers nest more than `limit` levels inside `value` (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def validate_nesting(body: dict[str, Any]) -> None:
    """Refuse a body nested deeper than MAX_NESTING, naming the field (a message by its
    index; a field of the caller's own naming only as "a field")."""
    for name, value in body.items():
        if not isinstance(value, dict | list):
            continue
        if name == "messages":
            continue  # validate_messages, which runs first, checked each message
        if _too_deep(value, MAX_NESTING - 1):
            raise _nested_too_deep(name if name in _FIELDS else None)


def _nested_too_deep(field: str | None) -> GatewayError:
    what = f"'{field}'" if field is not None else "A field of the request body"
    return validation(f"{what} nests more than {MAX_NESTING} levels deep.", field)


def validate_sampling(body: dict[str, Any]) -> None:
    """The sampling fields' types and ranges, checked alike by chat and by the estimate."""
    _int_field(body, "n", 1, 1)  # one choice: usage and billing are per answer
    _number_field(body, "temperature", 0, 2)
    _number_field(body, "top_p", 0, 1)
    _number_field(body, "presence_penalty", -2, 2)
    _number_field(body, "frequency_penalty", -2, 2)


def validate_chat_body(body: Any) -> ChatRequest:
    """An OpenAI chat completions body → ChatRequest, or a validation GatewayError."""
    if not isinstance(body, dict):
        raise validation("The request body must be a JSON object.")
    model = body.get("model")
    if model is None:
        raise validation("'model' is required.", "model")
    if not isinstance(model, str) or not model:
        raise validation("'model' must be a non-empty string.", "model")
    validate_messages(body.get("messages"))
    validate_nesting(body)
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise validation("'stream' must be a boolean.", "stream")
    max_tokens = _int_field(body, "max_tokens", 1, _MAX_TOKENS_CEILING)
    max_completion = _int_field(body, "max_completion_tokens", 1, _MAX_TOKENS_CEILING)
    validate_sampling(body)
    check_request_fields(body)
    return ChatRequest(
        body=body,
        stream=stream,
        max_output_tokens=max_completion if max_completion is not None else max_tokens,
    )


def validate_strategy(value: Any, param: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in STRATEGIES:
        raise validation(f"'{param}' must be one of {', '.join(sorted(STRATEGIES))}.", param)
    return value.lower()


def truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on")
