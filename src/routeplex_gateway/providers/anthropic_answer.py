"""Anthropic's answers in canonical terms: a Messages response as a `ChatResponse`, and its SSE
stream as `Chunk`s of typed deltas, each beside the event's own bytes.

Blocks become parts in the order produced: `text` → `Text`, `thinking` → `Thinking` with its
signature (a `redacted_thinking` block → a redacted one, its data as the signature),
`tool_use` → `ToolCall` with its `input` as JSON text; the forced answer tool of JSON mode
becomes the answer's text again. Server-tool blocks have no canonical part: they stay in the
native body, which an Anthropic caller is handed as it came. A `refusal` stop makes the
answer's text a `Refusal` (with a note of its own when the model said nothing).

Streams: `text_delta` → `TextDelta`, `thinking_delta` / `signature_delta` → `ThinkingDelta`,
a tool's `content_block_start` → `ToolCallStart` (calls numbered from 0) and its
`input_json_delta` fragments → `ToolArgumentsDelta`, `message_delta`'s stop → `Finish`.
`ping` and the other events carry only their bytes. Anthropic's whitespace padding after its
JSON is tolerated; an `event: error` after HTTP 200 ends the stream with the error it names
(`overloaded_error` is `provider_unavailable`). Nothing is handed over before the first
content (`anthropic_passthrough.HeldEvents`), so a stream that fails before any can still
fall back.

Usage: Anthropic's `input_tokens` excludes cache reads and writes, so the canonical input is
`input_tokens + cache_creation_input_tokens + cache_read_input_tokens`, with the 1-hour writes
(`cache_creation.ephemeral_1h_input_tokens`) kept apart, since they cost more; in streams
`message_delta` carries the final cumulative output count, which replaces (never adds to) the
provisional one of `message_start`. Thinking tokens are inside `output_tokens` and not
reported apart, so `reasoning_tokens` is unknown (None) when thinking was on, and 0 only when
it was off.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from ..canonical import (
    AnswerPart,
    ChatResponse,
    Chunk,
    Delta,
    Finish,
    FinishReason,
    Refusal,
    RefusalDelta,
    Text,
    TextDelta,
    Thinking,
    ThinkingDelta,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
    Usage,
)
from .anthropic_conversation import WIRE
from .anthropic_passthrough import HeldEvents
from .anthropic_translate import ANSWER_TOOL
from .base import broken_stream, json_object, stream_error_event
from .sse import sse_blocks

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
}
_THINKING_BLOCKS = ("thinking", "redacted_thinking")
# The refusal's text when Anthropic's refusal came with none of its own (or, in a stream,
# after text already sent as content).
REFUSAL_NOTE = "The model declined to answer (Anthropic stop_reason: refusal)."


def parse_usage(raw: Any) -> Usage:
    """Anthropic usage → canonical (input includes cache reads and writes)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("input_tokens"), int):
        return Usage()
    cache_write = raw.get("cache_creation_input_tokens") or 0
    cache_read = raw.get("cache_read_input_tokens") or 0
    output = raw.get("output_tokens")
    # The TTL split of the writes (priced apart); without it, writes are unknown-TTL only
    # when there are some.
    split = raw.get("cache_creation")
    long_writes = split.get("ephemeral_1h_input_tokens") if isinstance(split, dict) else None
    if not isinstance(long_writes, int):
        long_writes = None if cache_write else 0
    return Usage(
        input_tokens=raw["input_tokens"] + cache_write + cache_read,
        output_tokens=output if isinstance(output, int) else None,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=long_writes,
    )


def finish_reason(stop_reason: Any, *, has_calls: bool) -> FinishReason:
    reason = _FINISH.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"
    if reason == "tool_calls" and not has_calls:
        return "stop"  # only the answer tool was called: that is the final answer
    return reason


def error_message(raw: bytes) -> str | None:
    """The `error.message` of Anthropic's `{"type": "error", "error": {...}}` envelope."""
    return error_field(raw, "message")


def error_field(raw: bytes, name: str) -> str | None:
    error = (json_object(raw) or {}).get("error")
    value = error.get(name) if isinstance(error, dict) else None
    return value if isinstance(value, str) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _input_json(value: Any) -> str:
    return orjson.dumps(value if value is not None else {}).decode()


def completion(data: dict[str, Any], *, answer_tool: bool, thinking: bool = False) -> ChatResponse:
    """A Messages API response as the canonical answer (`native`: the response itself)."""
    parts: list[AnswerPart] = []
    blocks = [block for block in data.get("content") or () if isinstance(block, dict)]
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            parts.append(Text(_text(block.get("text"))))
        elif kind == "tool_use" and answer_tool and block.get("name") == ANSWER_TOOL:
            parts.append(Text(_input_json(block.get("input"))))
        elif kind == "tool_use":
            parts.append(
                ToolCall(
                    id=_text(block.get("id")),
                    name=_text(block.get("name")),
                    arguments=_input_json(block.get("input")),
                )
            )
        elif kind == "thinking":
            signature = block.get("signature")
            parts.append(
                Thinking(
                    text=_text(block.get("thinking")),
                    signature=signature if isinstance(signature, str) and signature else None,
                )
            )
        elif kind == "redacted_thinking":
            parts.append(Thinking(text="", signature=_text(block.get("data")), redacted=True))
        # Server-tool blocks have no canonical part; they stay in `native`.
    stop = data.get("stop_reason")
    if stop == "refusal":
        # The text that came is the refusal's; the rest (thinking, calls) stays as it was.
        said = "".join(p.text for p in parts if isinstance(p, Text))
        parts = [p for p in parts if not isinstance(p, Text)]
        parts.append(Refusal(said or REFUSAL_NOTE))
    usage = parse_usage(data.get("usage"))
    thought = thinking or any(block.get("type") in _THINKING_BLOCKS for block in blocks)
    usage.reasoning_tokens = None if thought else 0
    has_calls = any(isinstance(p, ToolCall) for p in parts)
    stop_sequence = data.get("stop_sequence")
    return ChatResponse(
        id=_text(data.get("id")),
        model=_text(data.get("model")),
        parts=parts,
        finish_reason=finish_reason(stop, has_calls=has_calls),
        usage=usage,
        # Anthropic does not say when: the time it arrived.
        created=int(time.time()),
        stop_sequence=stop_sequence if isinstance(stop_sequence, str) else None,
        wire=WIRE,
        native=data,
    )


@dataclass(slots=True)
class _Block:
    """A content block being streamed: what its deltas become."""

    kind: str  # "text", "thinking", "tool", "answer" (the JSON-mode answer tool) or "other"
    tool_index: int = -1
    sent: bool = False  # whether any argument / answer text was sent for it


class AnthropicStream:
    """Anthropic SSE events as `Chunk`s: each event's bytes with its typed deltas."""

    wire = WIRE

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        provider: str,
        answer_tool: bool,
        thinking: bool = False,
        *,
        secret: str = "",
    ) -> None:
        self._response = response
        self._provider = provider
        self._secret = secret  # the deployment's key: masked in relayed error events
        self._answer_tool = answer_tool
        self._thinking = thinking
        self._kind: Any = None  # the type of the last event read
        self.id = ""
        self.model = ""
        self.created = int(time.time())  # Anthropic does not say: when the stream began
        self.usage = Usage()
        self.finish_reason: FinishReason | None = None
        self._started = False
        self._raw_usage: dict[str, Any] = {}
        self._blocks: dict[int, _Block] = {}
        self._tools = 0
        self._done = False

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[Chunk]:
        held = HeldEvents()
        try:
            async for event, payload, more in sse_blocks(self._response):
                deltas = self._translate(payload)
                chunk = held.add(self._kind, event, deltas, more=more)
                if chunk is not None:
                    yield chunk
                if self._done:
                    return
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise broken_stream(self._provider, type(exc).__name__) from None
        finally:
            self._response.release()
        raise broken_stream(self._provider, "ended without message_stop")

    def _translate(self, payload: bytes) -> tuple[Delta, ...]:
        data = json_object(payload)  # orjson tolerates Anthropic's trailing spaces
        if data is None:
            raise broken_stream(self._provider, "malformed event")
        kind = self._kind = data.get("type")
        if kind == "ping":
            return ()
        if kind == "error":
            raise stream_error_event(
                self._provider,
                error_field(payload, "type"),
                error_message(payload),
                secret=self._secret,
            )
        if kind == "message_start":
            message = data.get("message") or {}
            self.id, self.model = _text(message.get("id")), _text(message.get("model"))
            self._started = True
            self._update_usage(message.get("usage"), final=False)
            return ()
        if not self._started:
            raise broken_stream(self._provider, "event before message_start")
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "content_block_delta":
            return self._block_delta(data)
        if kind == "content_block_stop":
            block = self._blocks.get(data.get("index", -1))
            if block is not None and block.kind in ("tool", "answer") and not block.sent:
                # Empty input arrives as no fragments at all: the arguments are "{}".
                return (self._fragment(block, "{}"),)
            return ()
        if kind == "message_delta":
            return self._message_delta(data)
        if kind == "message_stop":
            self._done = True
        return ()  # unknown event types are tolerated: their bytes alone

    def _block_start(self, data: dict[str, Any]) -> tuple[Delta, ...]:
        block = data.get("content_block") or {}
        index = data.get("index", -1)
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = _Block("text")
            text = _text(block.get("text"))
            return (TextDelta(text),) if text else ()
        if kind == "tool_use" and self._answer_tool and block.get("name") == ANSWER_TOOL:
            self._blocks[index] = _Block("answer")
            return ()
        if kind == "tool_use":
            self._blocks[index] = _Block("tool", tool_index=self._tools)
            self._tools += 1
            start = ToolCallStart(self._tools - 1, _text(block.get("id")), _text(block.get("name")))
            return (start,)
        if kind in _THINKING_BLOCKS:
            self._thinking = True
            self.usage.reasoning_tokens = None
            self._blocks[index] = _Block("thinking")
            if kind == "redacted_thinking":
                return (ThinkingDelta(signature=_text(block.get("data")), redacted=True),)
            text = _text(block.get("thinking"))
            return (ThinkingDelta(text),) if text else ()
        self._blocks[index] = _Block("other")  # server tools and their results
        return ()

    def _block_delta(self, data: dict[str, Any]) -> tuple[Delta, ...]:
        block = self._blocks.get(data.get("index", -1))
        delta = data.get("delta") or {}
        if block is None:
            return ()
        kind = delta.get("type")
        if block.kind == "text" and kind == "text_delta":
            text = _text(delta.get("text"))
            return (TextDelta(text),) if text else ()
        if block.kind in ("tool", "answer") and kind == "input_json_delta":
            fragment = _text(delta.get("partial_json"))
            return (self._fragment(block, fragment),) if fragment else ()
        if block.kind == "thinking" and kind == "thinking_delta":
            text = _text(delta.get("thinking"))
            return (ThinkingDelta(text),) if text else ()
        if block.kind == "thinking" and kind == "signature_delta":
            return (ThinkingDelta(signature=_text(delta.get("signature"))),)
        return ()  # citations and the like: their bytes alone

    def _fragment(self, block: _Block, fragment: str) -> Delta:
        block.sent = True
        if block.kind == "answer":
            return TextDelta(fragment)
        return ToolArgumentsDelta(block.tool_index, fragment)

    def _message_delta(self, data: dict[str, Any]) -> tuple[Delta, ...]:
        self._update_usage(data.get("usage"), final=True)
        delta = data.get("delta") or {}
        stop = delta.get("stop_reason")
        reason = finish_reason(stop, has_calls=self._tools > 0)
        self.finish_reason = reason
        sequence = delta.get("stop_sequence")
        finish = Finish(reason, sequence if isinstance(sequence, str) else None)
        if stop == "refusal":
            return (RefusalDelta(REFUSAL_NOTE), finish)
        return (finish,)

    def _update_usage(self, raw: Any, *, final: bool) -> None:
        if isinstance(raw, dict):
            self._raw_usage.update({k: v for k, v in raw.items() if v is not None})
        usage = parse_usage(self._raw_usage)
        usage.reasoning_tokens = None if self._thinking else 0
        if not final:
            # message_start's output count is provisional: unknown until message_delta.
            usage.output_tokens = None
        self.usage = usage

    async def aclose(self) -> None:
        self._response.close()
