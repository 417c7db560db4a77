"""Canonical answers → Anthropic Messages shapes, for the inbound Anthropic surface: the
`message` object of a `ChatResponse`, the pieces a stream's events share with it
(`anthropic_stream` writes those), and the error envelope. (An Anthropic upstream's own
answer is relayed as it came, by `api/anthropic.py`, and never passes through here.)

Decisions, each a place where the two APIs differ:

* ids: `msg_` + the request id's own part (`req_…` → `msg_…`); a tool call without an id
  gets `toolu_` + the message id's part and its position.
* `stop_reason` from the finish reason: stop → end_turn, or stop_sequence when the provider
  said which of the caller's sequences ended the text (`stop_sequence` then names it),
  length → max_tokens, tool_calls → tool_use, content_filter → refusal; a refusal (OpenAI's
  way to decline) is given as text, with stop_reason refusal.
* tool input: the arguments parsed; when they are not a JSON object (a model's malformed
  JSON, or arguments cut off by max_tokens), `input` is `{}` — Anthropic's schema needs an
  object, and an agent's tool validation then reports the missing arguments to the model,
  which retries. In streams the argument text is relayed as `input_json_delta` fragments
  as it comes, unparsed (as Anthropic's fine-grained tool streaming does).
* thinking: left out. An answer of Anthropic's own is relayed with its thinking; another
  provider's reasoning has no signature Anthropic can verify (Gemini's are its own, OpenAI
  gives none), and Anthropic's schema requires one: a client that sent such a block back
  with its history would have the conversation refused the moment it reached a Claude model.
* usage: canonical `input_tokens` counts cache reads and writes, Anthropic's does not, so
  they are subtracted. Anthropic's schema requires `input_tokens` and `output_tokens` as
  integers: an unknown count is given as 0 there (the surface's `x_routeplex.usage_details`
  says what was unknown); the cache counts, which may be null, are null when unknown.
  `output_tokens_details.thinking_tokens` carries the reasoning count when it is known.
* errors: Anthropic's `{"type": "error", "error": {type, message}}`, the type by RoutePlex
  error code (`ERROR_TYPES`, one entry per code), from the types Anthropic documents.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..canonical import (
    ChatResponse,
    Refusal,
    Text,
    Thinking,
    Usage,
)
from ..errors import ErrorCode, GatewayError

STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_INVALID = "invalid_request_error"
ERROR_TYPES: dict[ErrorCode, str] = {
    ErrorCode.UNAUTHENTICATED: "authentication_error",
    ErrorCode.INVALID_API_KEY: "authentication_error",
    ErrorCode.EXPIRED_API_KEY: "authentication_error",
    ErrorCode.FORBIDDEN_MODEL: "permission_error",
    ErrorCode.VALIDATION_ERROR: _INVALID,
    ErrorCode.BAD_REQUEST: _INVALID,
    ErrorCode.INVALID_MODEL: _INVALID,
    ErrorCode.INVALID_MODE: _INVALID,
    ErrorCode.EMPTY_MESSAGES: _INVALID,
    ErrorCode.CONTEXT_LENGTH_EXCEEDED: _INVALID,
    ErrorCode.NOT_FOUND: "not_found_error",
    # Anthropic uses invalid_request_error "for other 4XX status codes" too.
    ErrorCode.METHOD_NOT_ALLOWED: _INVALID,
    ErrorCode.REQUEST_TIMEOUT: _INVALID,
    ErrorCode.PAYLOAD_TOO_LARGE: "request_too_large",
    ErrorCode.URI_TOO_LONG: _INVALID,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: _INVALID,
    ErrorCode.HEADERS_TOO_LARGE: _INVALID,
    ErrorCode.RATE_LIMITED: "rate_limit_error",
    ErrorCode.DAILY_LIMIT_EXCEEDED: "rate_limit_error",
    ErrorCode.DAILY_COST_LIMIT_EXCEEDED: "rate_limit_error",
    ErrorCode.QUOTA_EXCEEDED: "rate_limit_error",
    ErrorCode.PROVIDER_ERROR: "api_error",
    ErrorCode.ALL_PROVIDERS_FAILED: "api_error",
    ErrorCode.PROVIDER_UNAVAILABLE: "overloaded_error",
    ErrorCode.PROVIDER_TIMEOUT: "timeout_error",
    ErrorCode.TOO_MANY_CONNECTIONS: "overloaded_error",
    ErrorCode.INTERNAL_ERROR: "api_error",
}


def message_id(request_id: str) -> str:
    return "msg_" + request_id.removeprefix("req_")


def stop_reason(finish_reason: str | None) -> str:
    return STOP_REASONS.get(finish_reason or "stop", "end_turn")


def usage_object(usage: Usage) -> dict[str, Any]:
    """Anthropic's `usage`: input without the cache reads and writes; unknown totals 0."""
    out: dict[str, Any] = {
        "input_tokens": uncached_input(usage) or 0,
        "output_tokens": usage.output_tokens or 0,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    }
    long_writes = usage.cache_write_1h_tokens
    if usage.cache_write_tokens is not None and long_writes is not None:
        out["cache_creation"] = {
            "ephemeral_5m_input_tokens": max(usage.cache_write_tokens - long_writes, 0),
            "ephemeral_1h_input_tokens": long_writes,
        }
    if usage.reasoning_tokens is not None:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return out


def uncached_input(usage: Usage) -> int | None:
    if usage.input_tokens is None:
        return None
    cached = (usage.cache_read_tokens or 0) + (usage.cache_write_tokens or 0)
    return max(usage.input_tokens - cached, 0)


def tool_input(arguments: Any) -> dict[str, Any]:
    """A tool call's arguments as Anthropic's `input` object: {} unless a JSON object."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str | bytes):
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def message(response: ChatResponse, usage: Usage, model: str, request_id: str) -> dict[str, Any]:
    """A canonical answer as an Anthropic `message` object."""
    msg_id = message_id(request_id)
    content: list[dict[str, Any]] = []
    refused = False
    calls = 0
    for part in response.parts:
        if isinstance(part, Text | Refusal):
            refused = refused or isinstance(part, Refusal)
            if part.text:
                content.append({"type": "text", "text": part.text})
        elif isinstance(part, Thinking):
            continue  # see the module docstring
        else:
            content.append(
                {
                    "type": "tool_use",
                    "id": part.id or tool_id(msg_id, calls),
                    "name": part.name,
                    "input": tool_input(part.arguments),
                }
            )
            calls += 1
    reason = stop_reason(response.finish_reason)
    sequence = response.stop_sequence if reason == "end_turn" else None
    if sequence is not None:
        reason = "stop_sequence"
    if refused:
        reason = "refusal"
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": usage_object(usage),
    }


def tool_id(msg_id: str, position: int) -> str:
    return f"toolu_{msg_id.removeprefix('msg_')}_{position}"


def error_type(error: GatewayError) -> str:
    return ERROR_TYPES.get(error.code, "api_error")


def error_body(error: GatewayError, request_id: str | None = None) -> dict[str, Any]:
    """Anthropic's error envelope: the same message the OpenAI envelope carries (the
    provider's words included, masked as there)."""
    relayed = orjson.loads(error.openai_body())["error"]["message"]
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": error_type(error), "message": relayed},
    }
    if request_id is not None:
        body["request_id"] = request_id
    return body


def event(name: str, data: dict[str, Any]) -> bytes:
    """One SSE event, as Anthropic frames them."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
