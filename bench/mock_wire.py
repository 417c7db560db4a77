"""The bytes the mock upstream sends, built once per configuration: OpenAI's chat completion,
OpenAI's Responses answer and Anthropic's Messages answer, each plain and as its SSE stream,
and the response heads each provider sends (OpenAI's embeddings: `embeddings_wire`).

Only an id changes per request, so every template is the response's bytes split around a
marker of the id's length (`ChatTemplates`: `chatcmpl-…`; `ResponsesTemplates`: `resp_…`;
`MessagesTemplates`: `msg_01…`) and a request joins the pieces with its own id.

The streams cut the same answer into the same pieces with the same pacing, so a Messages,
Responses and chat stream of one configuration differ only in their wire format: `chunks`
writes, the first after `ttft_ms` and the rest `gap_ms` apart, the answer's text in the
first `chunks - 1` and the finish (OpenAI: `finish_reason`; Responses: the `….done` events
and `response.completed` with the usage; Anthropic: `content_block_stop` and `message_delta`
with the usage) in the last.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

UPSTREAM_MODEL = "gpt-4o-mini-2024-07-18"
CLAUDE_MODEL = "claude-haiku-4-5-20251001"
FINGERPRINT = "fp_b376dfbbd5"
# About 300 bytes, like a short real gpt-4o-mini answer.
ANSWER = (
    "Sure! A closed-loop load test keeps a fixed number of clients busy: each one sends its "
    "next request as soon as the previous answer arrives, so throughput and latency settle "
    "where the server can keep up. Measure after a short warm-up, report p50 and p99, and "
    "compare against a direct baseline to isolate the proxy's overhead."
)
PROMPT_TOKENS = 42
COMPLETION_TOKENS = 64

CHAT_ID_MARK = b"chatcmpl-@@@@@@@@@@@@@@@@@@@@@@@@@@@@@"  # same length as a real id
MESSAGE_ID_MARK = b"msg_01@@@@@@@@@@@@@@@@@@@@@@"  # msg_01 and 22 characters, like Anthropic's
RESPONSE_ID_MARK = b"resp_" + b"@" * 50  # resp_ and 50 characters, like OpenAI's
RESPONSE_ID_LENGTH = 50
# The message item's id: fixed per configuration (only the response's id is per request).
RESPONSE_ITEM_ID = "msg_0bench" + "0" * 40


@dataclass
class MockConfig:
    """What the next responses look like; changed at run time through `/_mock/config`."""

    chunks: int = 20
    ttft_ms: float = 0.0
    gap_ms: float = 0.0
    delay_ms: float = 0.0  # extra wait before a non-streaming response


def split_answer(parts: int) -> list[str]:
    """The answer cut into `parts` pieces at word boundaries, as evenly as words allow."""
    words = ANSWER.split(" ")
    parts = max(1, min(parts, len(words)))
    size, extra = divmod(len(words), parts)
    pieces, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        text = " ".join(words[start:end])
        pieces.append(text if i == 0 else " " + text)
        start = end
    return pieces


def _openai_usage() -> dict[str, Any]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


class ChatTemplates:
    """OpenAI's `chat.completion` and its `chat.completion.chunk` stream, split around the id."""

    def __init__(self, config: MockConfig) -> None:
        created = int(time.time())
        marker = CHAT_ID_MARK.decode()
        plain = {
            "id": marker,
            "object": "chat.completion",
            "created": created,
            "model": UPSTREAM_MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": ANSWER,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _openai_usage(),
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }
        self.plain = orjson.dumps(plain).split(CHAT_ID_MARK)
        # The last of the `chunks` events carries only finish_reason, as OpenAI's does; with a
        # single chunk, it carries the whole answer too.
        count = max(1, config.chunks)
        pieces = split_answer(max(1, count - 1))
        events: list[list[bytes]] = []
        for i in range(count):
            delta: dict[str, Any] = {"content": pieces[i]} if i < len(pieces) else {}
            if i == 0:
                delta = {"role": "assistant", "content": pieces[0], "refusal": None}
            finish = "stop" if i == count - 1 else None
            events.append(self._event(created, [self._choice(delta, finish)]))
        self.chunks = events
        self.usage = self._event(created, [], usage=_openai_usage())

    @staticmethod
    def _choice(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

    @staticmethod
    def _event(created: int, choices: list[Any], usage: Any = None) -> list[bytes]:
        chunk = {
            "id": CHAT_ID_MARK.decode(),
            "object": "chat.completion.chunk",
            "created": created,
            "model": UPSTREAM_MODEL,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
            "usage": usage,
        }
        return (b"data: " + orjson.dumps(chunk) + b"\n\n").split(CHAT_ID_MARK)


def _anthropic_usage(output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": PROMPT_TOKENS,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _sse(name: str, data: dict[str, Any]) -> bytes:
    """One event as Anthropic frames it: its name, then its data, then a blank line."""
    return b"event: %s\ndata: %s\n\n" % (name.encode(), orjson.dumps(data))


class MessagesTemplates:
    """Anthropic's Messages answer and its event stream (`message_start`,
    `content_block_start`, `ping`, the `content_block_delta`s, `content_block_stop`,
    `message_delta` with the final usage, `message_stop`), split around the message id.

    `chunks` are the stream's writes before the last, as in `ChatTemplates`: the first is
    message_start through the first text delta, the last content_block_stop and message_delta;
    `final` (message_stop) goes out with that last one."""

    def __init__(self, config: MockConfig) -> None:
        marker = MESSAGE_ID_MARK.decode()
        message: dict[str, Any] = {
            "id": marker,
            "type": "message",
            "role": "assistant",
            "model": CLAUDE_MODEL,
            "content": [{"type": "text", "text": ANSWER}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": _anthropic_usage(COMPLETION_TOKENS),
        }
        self.plain = orjson.dumps(message).split(MESSAGE_ID_MARK)
        started = {**message, "content": [], "stop_reason": None, "usage": _anthropic_usage(1)}
        opening = (
            _sse("message_start", {"type": "message_start", "message": started})
            + _sse(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": _text("")},
            )
            + _sse("ping", {"type": "ping"})
        )
        closing = _sse("content_block_stop", {"type": "content_block_stop", "index": 0}) + _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": COMPLETION_TOKENS},
            },
        )

        def delta(piece: str) -> bytes:
            text = {"type": "text_delta", "text": piece}
            return _sse(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": text}
            )

        self.chunks = _writes(config, opening, delta, lambda: closing, MESSAGE_ID_MARK)
        self.final = _sse("message_stop", {"type": "message_stop"})


def _writes(
    config: MockConfig,
    opening: bytes,
    delta: Callable[[str], bytes],
    closing: Callable[[], bytes],
    marker: bytes,
) -> list[list[bytes]]:
    """A stream of named events as its `chunks` writes, each split around the id's `marker`:
    `opening` and the first piece's delta in the first, a piece's delta in each of the next,
    and `closing()` after the last one's (with a single write, all of it)."""
    count = max(1, config.chunks)
    pieces = split_answer(max(1, count - 1))
    writes: list[list[bytes]] = []
    for i in range(count):
        data = opening if i == 0 else b""
        if i < len(pieces):
            data += delta(pieces[i])
        if i == count - 1:
            data += closing()
        writes.append(data.split(marker))
    return writes


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _responses_usage() -> dict[str, Any]:
    return {
        "input_tokens": PROMPT_TOKENS,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": COMPLETION_TOKENS,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    }


class ResponsesTemplates:
    """OpenAI's Responses `response` and its event stream (`response.created`,
    `response.in_progress`, `response.output_item.added`, `response.content_part.added`, the
    `response.output_text.delta`s, `response.output_text.done`, `response.content_part.done`,
    `response.output_item.done`, `response.completed` with the usage), each event with its
    `sequence_number`, split around the response id.

    `chunks` are the stream's writes before the last, as in `MessagesTemplates`: the first is
    response.created through the first text delta, the last the `….done` events; `final`
    (response.completed) goes out with that last one."""

    def __init__(self, config: MockConfig) -> None:
        created = int(time.time())
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ANSWER}
        item = {
            "id": RESPONSE_ITEM_ID,
            "type": "message",
            "status": "completed",
            "content": [part],
            "role": "assistant",
        }
        response: dict[str, Any] = {
            "id": RESPONSE_ID_MARK.decode(),
            "object": "response",
            "created_at": created,
            "status": "completed",
            "background": False,
            "completed_at": created + 1,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "max_output_tokens": 256,
            "max_tool_calls": None,
            "model": UPSTREAM_MODEL,
            "output": [item],
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "prompt_cache_key": None,
            "reasoning": {"effort": None, "summary": None},
            "safety_identifier": None,
            "service_tier": "default",
            "store": False,
            "temperature": 0.7,
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto",
            "tools": [],
            "top_logprobs": 0,
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": _responses_usage(),
            "metadata": {},
        }
        self.plain = orjson.dumps(response).split(RESPONSE_ID_MARK)
        # OpenAI sends `"usage": null` until the end and `"user": null` when none was given;
        # its own schema allows neither, so they are left out (as the simulator does).
        started = {**response, "status": "in_progress", "completed_at": None, "output": []}
        del started["usage"]
        numbers = iter(range(1_000_000))

        def event(kind: str, **fields: Any) -> bytes:
            return _sse(kind, {"type": kind, **fields, "sequence_number": next(numbers)})

        at = {"item_id": RESPONSE_ITEM_ID, "output_index": 0, "content_index": 0}
        opening = (
            event("response.created", response=started)
            + event("response.in_progress", response=started)
            + event(
                "response.output_item.added",
                item={**item, "status": "in_progress", "content": []},
                output_index=0,
            )
            + event("response.content_part.added", **at, part={**part, "text": ""})
        )

        def delta(piece: str) -> bytes:
            # OpenAI pads each delta with `obfuscation` unless asked not to.
            return event(
                "response.output_text.delta",
                **at,
                delta=piece,
                logprobs=[],
                obfuscation="bench0obfusc",
            )

        def closing() -> bytes:  # numbered after every delta
            return (
                event("response.output_text.done", **at, text=ANSWER, logprobs=[])
                + event("response.content_part.done", **at, part=part)
                + event("response.output_item.done", item=item, output_index=0)
            )

        self.chunks = _writes(config, opening, delta, closing, RESPONSE_ID_MARK)
        self.final = event("response.completed", response=response).split(RESPONSE_ID_MARK)


OPENAI_HEADERS = (
    b"openai-organization: user-benchmark\r\n"
    b"openai-processing-ms: 212\r\n"
    b"openai-version: 2020-10-01\r\n"
    b"x-ratelimit-limit-requests: 30000\r\n"
    b"x-ratelimit-limit-tokens: 150000000\r\n"
    b"x-ratelimit-remaining-requests: 29999\r\n"
    b"x-ratelimit-remaining-tokens: 149999970\r\n"
    b"x-ratelimit-reset-requests: 2ms\r\n"
    b"x-ratelimit-reset-tokens: 0s\r\n"
)
ANTHROPIC_HEADERS = (
    b"request-id: req_011CbenchmarkMockRequest0\r\n"
    b"anthropic-organization-id: 00000000-0000-4000-8000-000000000000\r\n"
    b"anthropic-ratelimit-requests-limit: 4000\r\n"
    b"anthropic-ratelimit-requests-remaining: 3999\r\n"
    b"anthropic-ratelimit-requests-reset: 2026-01-01T00:00:00Z\r\n"
    b"anthropic-ratelimit-tokens-limit: 4000000\r\n"
    b"anthropic-ratelimit-tokens-remaining: 3999000\r\n"
    b"anthropic-ratelimit-tokens-reset: 2026-01-01T00:00:00Z\r\n"
)


def sse_head(headers: bytes) -> bytes:
    """The head of a stream (chunked, as both providers send it), without the blank line."""
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
        + headers
        + b"transfer-encoding: chunked\r\n"
    )
