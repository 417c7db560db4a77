"""The Anthropic Messages wire format: message bodies, SSE events and error bodies.

Every shape follows recorded real traffic (`tests/fixtures/providers/anthropic/`): the event
sequence `message_start`, `content_block_start`, one `ping` after the first block starts,
`content_block_delta` (`thinking_delta` + `signature_delta`, `text_delta`,
`input_json_delta` starting with an empty fragment), `content_block_stop`, `message_delta`
with the stop reason and the cumulative usage (input and cache counts repeated), and
`message_stop`. Like Anthropic, `data:` JSON is padded with spaces after its closing brace, and
`message_start` reports a provisional output count of 1. Thinking tokens count inside
`output_tokens`. Errors use `{"type": "error", "error": {"type", "message"}, "request_id"}`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson

from routeplex_gateway.simulator.answer import Answer, digest, sentences, split_pieces, stable_token
from routeplex_gateway.simulator.openai_format import argument_fragments

ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "messages: text content blocks must be non-empty"),
    401: ("authentication_error", "invalid x-api-key"),
    403: (
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    404: ("not_found_error", "model: {model}"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: (
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per"
        " minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.",
    ),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}
# The `code` of a status fault that renders Anthropic's context-window overflow (a 400
# `invalid_request_error`), in Anthropic's wording.
CONTEXT_OVERFLOW_CODE = "context_length_exceeded"
CONTEXT_OVERFLOW_MESSAGE = "prompt is too long: 208310 tokens > 200000 maximum"
MISSING_KEY_MESSAGE = "x-api-key header is required"
MISSING_VERSION_MESSAGE = "anthropic-version: header is required"
_STOP_REASON = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


@dataclass(frozen=True)
class Message:
    """One generated Messages API answer."""

    id: str
    model: str
    seed: bytes
    answer: Answer
    input_tokens: int
    thinking: bool
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0

    @property
    def request_id(self) -> str:
        return "req_011" + stable_token(self.seed, f"request-{self.id}", 21)

    def thinking_text(self) -> str:
        return " ".join(sentences(digest(self.seed, b"thinking")))

    def signature(self) -> str:
        return base64.b64encode(digest(self.seed, b"signature") * 4).decode()

    def usage(self, output_tokens: int, *, full: bool) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_write_5m_tokens + self.cache_write_1h_tokens,
            "cache_read_input_tokens": 0,
        }
        if full:
            usage["cache_creation"] = {
                "ephemeral_5m_input_tokens": self.cache_write_5m_tokens,
                "ephemeral_1h_input_tokens": self.cache_write_1h_tokens,
            }
        usage["output_tokens"] = output_tokens
        if full:
            usage["service_tier"] = "standard"
        return usage


def error_body(kind: str, message: str, request_id: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}


def status_error(status: int, code: str | None, *, model: str, request_id: str) -> dict[str, Any]:
    """The body Anthropic sends with `status`; `code` overrides the error type."""
    if code == CONTEXT_OVERFLOW_CODE:
        return error_body("invalid_request_error", CONTEXT_OVERFLOW_MESSAGE, request_id)
    if status in ERRORS:
        kind, message = ERRORS[status]
    else:
        try:
            message = HTTPStatus(status).phrase
        except ValueError:
            message = "Error"
        kind = "api_error" if status >= 500 else "invalid_request_error"
    return error_body(code or kind, message.format(model=model), request_id)


def message_body(message: Message) -> dict[str, Any]:
    """A non-streamed Messages API response."""
    answer = message.answer
    content: list[dict[str, Any]] = []
    if message.thinking:
        content.append(
            {
                "type": "thinking",
                "thinking": message.thinking_text(),
                "signature": message.signature(),
            }
        )
    if answer.tool_calls:
        content += [
            {
                "type": "tool_use",
                "id": _tool_id(c.key),
                "name": c.name,
                "input": orjson.loads(c.arguments),
            }
            for c in answer.tool_calls
        ]
    elif answer.pieces or not content:
        content.append({"type": "text", "text": "".join(answer.pieces)})
    return {
        "model": message.model,
        "id": message.id,
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": _stop_reason(answer),
        "stop_sequence": answer.stopped_by,
        "usage": message.usage(answer.completion_tokens, full=True),
    }


def stream_events(message: Message) -> tuple[bytes, ...]:
    """The complete SSE stream, one entry per event (the `ping` included)."""
    answer = message.answer
    start: dict[str, Any] = {
        "model": message.model,
        "id": message.id,
        "type": "message",
        "role": "assistant",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": message.usage(1, full=True),
    }
    events = [_event(message, "message_start", {"message": start})]
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if message.thinking:
        deltas = [
            {"type": "thinking_delta", "thinking": p} for p in split_pieces(message.thinking_text())
        ]
        deltas.append({"type": "signature_delta", "signature": message.signature()})
        blocks.append(({"type": "thinking", "thinking": "", "signature": ""}, deltas))
    for call in answer.tool_calls:
        deltas = [{"type": "input_json_delta", "partial_json": ""}]
        deltas += [
            {"type": "input_json_delta", "partial_json": f}
            for f in argument_fragments(call.arguments)
        ]
        blocks.append(
            ({"type": "tool_use", "id": _tool_id(call.key), "name": call.name, "input": {}}, deltas)
        )
    if not answer.tool_calls and (answer.pieces or not blocks):
        deltas = [{"type": "text_delta", "text": p} for p in answer.pieces]
        blocks.append(({"type": "text", "text": ""}, deltas))
    for index, (block, deltas) in enumerate(blocks):
        events.append(
            _event(message, "content_block_start", {"index": index, "content_block": block})
        )
        if index == 0:
            events.append(b'event: ping\ndata: {"type": "ping"}\n\n')
        for delta in deltas:
            events.append(_event(message, "content_block_delta", {"index": index, "delta": delta}))
        events.append(_event(message, "content_block_stop", {"index": index}))
    stop = {"stop_reason": _stop_reason(answer), "stop_sequence": answer.stopped_by}
    usage = message.usage(answer.completion_tokens, full=False)
    events.append(_event(message, "message_delta", {"delta": stop, "usage": usage}))
    events.append(_event(message, "message_stop", {}))
    return tuple(events)


def overloaded_event(message: Message) -> bytes:
    """The `event: error` Anthropic sends mid-stream, after HTTP 200, when it is overloaded."""
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    return b"event: error\ndata: " + orjson.dumps(body) + b"\n\n"


def _event(message: Message, kind: str, fields: dict[str, Any]) -> bytes:
    data = orjson.dumps({"type": kind, **fields})
    # Anthropic pads its JSON with spaces; clients must not compare raw bytes.
    padding = digest(message.seed, kind.encode(), data[-24:])[0] % 16
    return b"event: " + kind.encode() + b"\ndata: " + data + b" " * padding + b"\n\n"


def _stop_reason(answer: Answer) -> str:
    if answer.stopped_by is not None:
        return "stop_sequence"
    return _STOP_REASON[answer.finish_reason]


def _tool_id(key: str) -> str:
    return "toolu_01" + key[:22]
