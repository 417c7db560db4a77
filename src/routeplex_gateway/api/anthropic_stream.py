"""A stream's typed deltas → Anthropic's stream events (`MessageStream`), for an answer from a
provider of any other wire format (an Anthropic upstream's own events are relayed as they
came, by `api/anthropic.py`). The decisions it shares with whole answers (ids, stop
reasons, tool input, usage) are `anthropic_encode`'s.
"""

from __future__ import annotations

from typing import Any

from ..canonical import (
    Chunk,
    Finish,
    RefusalDelta,
    TextDelta,
    ThinkingDelta,
    ToolArgumentsDelta,
    ToolCallStart,
    Usage,
)
from ..errors import GatewayError
from .anthropic_encode import (
    error_body,
    event,
    message_id,
    stop_reason,
    tool_id,
    uncached_input,
)


class MessageStream:
    """A stream's typed deltas → Anthropic's stream events, for one answer.

    The order is Anthropic's: `message_start`; per content block `content_block_start`, its
    deltas, `content_block_stop` (the open block is closed when the next one starts, so at
    most one is open and indexes count up from 0); then `message_delta` (stop reason, final
    usage) and `message_stop`. Text (and a refusal) becomes text blocks (another provider's
    reasoning is left out: see `anthropic_encode`); each tool call a `tool_use` block whose argument
    fragments are `input_json_delta`s. A fragment of an earlier, already closed call (no
    upstream interleaves them, but nothing forbids it) is still sent to its block's index,
    where the SDKs' accumulators put it, rather than lost.
    """

    def __init__(self) -> None:
        self._msg_id = ""
        self._started = False
        self._ended = False
        self._next_index = 0
        self._open: int | None = None  # index of the open block
        self._open_kind: str | None = None  # "text", "thinking", "signed" or "tool_use"
        self._tools: dict[int, int] = {}  # canonical tool-call index → block index
        self._refused = False
        self.finish_reason: str | None = None  # the last one a chunk carried
        self.stop_sequence: str | None = None

    def start(self, model: str, request_id: str, input_tokens_estimate: int | None) -> bytes:
        """`message_start`, with the estimated input (replaced by the final count at `end`)."""
        self._msg_id = message_id(request_id)
        self._started = True
        return event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": self._msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": input_tokens_estimate or 0,
                        "output_tokens": 0,
                        "cache_creation_input_tokens": None,
                        "cache_read_input_tokens": None,
                    },
                },
            },
        )

    def chunk(self, chunk: Chunk) -> bytes:
        """The events one chunk's deltas make (often none: b"")."""
        if not self._started or self._ended:
            raise RuntimeError("MessageStream.chunk outside start() … end()")
        out: list[bytes] = []
        for delta in chunk.deltas:
            if isinstance(delta, TextDelta | RefusalDelta):
                if delta.text:
                    self._refused = self._refused or isinstance(delta, RefusalDelta)
                    out += self._text(delta.text)
            elif isinstance(delta, ThinkingDelta):
                continue  # another provider's reasoning: see anthropic_encode's docstring
            elif isinstance(delta, ToolCallStart):
                out += self._tool_start(delta.index, delta.id, delta.name)
            elif isinstance(delta, ToolArgumentsDelta):
                out += self._tool_fragment(delta)
            elif isinstance(delta, Finish):
                self.finish_reason = delta.reason
                self.stop_sequence = delta.stop_sequence
        return b"".join(out)

    def _open_block(self, kind: str, block: dict[str, Any]) -> list[bytes]:
        out = self._close()
        self._open, self._open_kind = self._next_index, kind
        self._next_index += 1
        out.append(
            event(
                "content_block_start",
                {"type": "content_block_start", "index": self._open, "content_block": block},
            )
        )
        return out

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        index, self._open, self._open_kind = self._open, None, None
        return [event("content_block_stop", {"type": "content_block_stop", "index": index})]

    def _delta(self, index: int, delta: dict[str, Any]) -> bytes:
        return event(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        )

    def _text(self, text: str) -> list[bytes]:
        out = (
            []
            if self._open_kind == "text"
            else self._open_block("text", {"type": "text", "text": ""})
        )
        assert self._open is not None
        out.append(self._delta(self._open, {"type": "text_delta", "text": text}))
        return out

    def _tool_start(self, position: int, call_id: str, name: str) -> list[bytes]:
        block = {
            "type": "tool_use",
            "id": call_id or tool_id(self._msg_id, position),
            "name": name,
            "input": {},
        }
        out = self._open_block("tool_use", block)
        assert self._open is not None
        self._tools[position] = self._open
        return out

    def _tool_fragment(self, delta: ToolArgumentsDelta) -> list[bytes]:
        out: list[bytes] = []
        if delta.index not in self._tools:  # arguments before their call's start
            out += self._tool_start(delta.index, "", "")
        if delta.fragment:
            fragment = {"type": "input_json_delta", "partial_json": delta.fragment}
            out.append(self._delta(self._tools[delta.index], fragment))
        return out

    def end(
        self,
        finish_reason: str | None,
        usage: Usage,
        x_routeplex: dict[str, Any] | None = None,
    ) -> bytes:
        """Close the open block; `message_delta` with the stop reason and final usage (input
        and cache counts only when known: the SDKs then keep `message_start`'s), and the
        surface's `x_routeplex` object when given (the SDKs keep unknown fields); and
        `message_stop`. `finish_reason` None: the last one a chunk carried."""
        if not self._started or self._ended:
            raise RuntimeError("MessageStream.end outside start() … end()")
        self._ended = True
        out = self._close()
        reason = stop_reason(finish_reason or self.finish_reason)
        sequence = self.stop_sequence if reason == "end_turn" else None
        if sequence is not None:
            reason = "stop_sequence"
        if self._refused:
            reason = "refusal"
        final: dict[str, Any] = {"output_tokens": usage.output_tokens or 0}
        uncached = uncached_input(usage)
        if uncached is not None:
            final["input_tokens"] = uncached
        if usage.cache_write_tokens is not None:
            final["cache_creation_input_tokens"] = usage.cache_write_tokens
        if usage.cache_read_tokens is not None:
            final["cache_read_input_tokens"] = usage.cache_read_tokens
        if usage.reasoning_tokens is not None:
            final["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
        delta: dict[str, Any] = {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": sequence},
            "usage": final,
        }
        if x_routeplex is not None:
            delta["x_routeplex"] = x_routeplex
        out.append(event("message_delta", delta))
        out.append(event("message_stop", {"type": "message_stop"}))
        return b"".join(out)

    def error(self, error: GatewayError) -> bytes:
        """How Anthropic ends a stream that failed after its first byte: an `error` event."""
        self._ended = True
        return event("error", error_body(error))

    def ping(self) -> bytes:
        return event("ping", {"type": "ping"})
