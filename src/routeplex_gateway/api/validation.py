"""Lean validation of an OpenAI-shaped chat request: only what the gateway relies on, or
what would otherwise surface as a confusing provider error. Every other field passes
through untouched. Error messages name the field, never its value.
"""

from __future__ import annotations

from typing import Any

from ..canonical import ChatRequest
from ..errors import ErrorCode, GatewayError, validation

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
STRATEGIES = frozenset({"auto", "balanced", "cost", "speed", "quality"})
_MAX_TOKENS_CEILING = 10_000_000


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
        if content is None and role == "user":
            raise validation(
                f"'{where}.content' is required for user messages.", f"{where}.content"
            )


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
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise validation("'stream' must be a boolean.", "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise validation("'stream_options' must be an object.", "stream_options")
    max_tokens = _int_field(body, "max_tokens", 1, _MAX_TOKENS_CEILING)
    max_completion = _int_field(body, "max_completion_tokens", 1, _MAX_TOKENS_CEILING)
    _int_field(body, "n", 1, 1)  # one choice: usage and billing are per answer
    _number_field(body, "temperature", 0, 2)
    _number_field(body, "top_p", 0, 1)
    _number_field(body, "presence_penalty", -2, 2)
    _number_field(body, "frequency_penalty", -2, 2)
    for name in ("tools", "stop"):
        value = body.get(name)
        if name == "tools" and value is not None and not isinstance(value, list):
            raise validation("'tools' must be an array.", "tools")
        if name == "stop" and value is not None and not isinstance(value, str | list):
            raise validation("'stop' must be a string or an array of strings.", "stop")
    response_format = body.get("response_format")
    if response_format is not None and not (
        isinstance(response_format, dict) and isinstance(response_format.get("type"), str)
    ):
        raise validation("'response_format' must be an object with a 'type'.", "response_format")
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
