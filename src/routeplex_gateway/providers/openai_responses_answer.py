"""OpenAI Responses answers in canonical terms: a response object as a `ChatResponse`, and its
SSE event stream as `Chunk`s of typed deltas, each beside the event's own bytes.

Output items become parts in the order produced: a `reasoning` item → `Thinking` (its summary
or reasoning text; its `encrypted_content`, which only OpenAI can read, as the signature), a
`message`'s `output_text` → `Text` and `refusal` → `Refusal`, a `function_call` →
`ToolCall` (the `call_id` as its id, the arguments as the text the model produced). Built-in
tool items (web search, code interpreter, …) have no canonical part: they stay in the native
body, which a Responses caller is handed as it came.

Finish: `incomplete` for `max_output_tokens` is "length", for `content_filter`
"content_filter"; an answer with function calls "tool_calls"; otherwise "stop".

Usage: `input_tokens` already counts the cached ones (`input_tokens_details.cached_tokens`),
`output_tokens` the reasoning ones; a detail OpenAI does not report stays unknown (None).
In streams it comes only with the final `response.completed` / `response.incomplete`.

Streams: `response.output_text.delta` → `TextDelta`, `response.refusal.delta` →
`RefusalDelta`, reasoning summary / text deltas → `ThinkingDelta`, a `function_call` item's
`output_item.added` → `ToolCallStart` (calls numbered from 0) and its
`function_call_arguments.delta` → `ToolArgumentsDelta` (the finished item's arguments when
none came in fragments), a finished reasoning item's
`encrypted_content` → a `ThinkingDelta` signature, the final event → `Finish`. Nothing is
handed over before the first content (the opening events are held, see `HeldEvents`), so a
stream that fails before any can still fall back. An `error` event or `response.failed`
after HTTP 200 ends the stream with the provider's message for the caller.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from ..canonical import (
    AnswerPart,
    ChatResponse,
    Chunk,
    Delta,
    Deployment,
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
from .anthropic_passthrough import HeldEvents
from .base import broken_stream, json_object, stream_error_event
from .sse import sse_blocks

WIRE = "openai-responses"
# The events before the first content: nothing in them that another deployment could not
# say instead, so they are held while a fallback is still possible.
HELD_EVENTS = frozenset(
    (
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    )
)
_FINAL_EVENTS = ("response.completed", "response.incomplete")
_THINKING_DELTAS = ("response.reasoning_summary_text.delta", "response.reasoning_text.delta")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_usage(raw: Any) -> Usage:
    """Responses usage → canonical (cached and reasoning counts are inside the totals)."""
    if not isinstance(raw, dict):
        return Usage()
    input_details = raw.get("input_tokens_details")
    input_details = input_details if isinstance(input_details, dict) else {}
    output_details = raw.get("output_tokens_details")
    output_details = output_details if isinstance(output_details, dict) else {}
    return Usage(
        input_tokens=_count(raw.get("input_tokens")),
        output_tokens=_count(raw.get("output_tokens")),
        cache_read_tokens=_count(input_details.get("cached_tokens")),
        cache_write_tokens=_count(input_details.get("cache_write_tokens")),
        reasoning_tokens=_count(output_details.get("reasoning_tokens")),
    )


def finish_reason(data: dict[str, Any], *, has_calls: bool) -> FinishReason:
    """Why a response object says it ended."""
    if data.get("status") == "incomplete":
        details = data.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return "content_filter" if reason == "content_filter" else "length"
    return "tool_calls" if has_calls else "stop"


def error_fields(data: dict[str, Any]) -> tuple[str | None, str | None]:
    """(code, message) of an `error` event — its fields at the top level, as OpenAI's schema
    has them, or nested under `error`, as OpenAI has been recorded sending them — or of a
    failed response's `error`."""
    nested = data.get("error")
    source = nested if isinstance(nested, dict) else data
    if isinstance(data.get("response"), dict):
        failed = data["response"].get("error")
        source = failed if isinstance(failed, dict) else {}
    code = source.get("code") or source.get("type")
    message = source.get("message")
    return (
        code if isinstance(code, str) else None,
        message if isinstance(message, str) and message else None,
    )


def _reasoning(item: dict[str, Any]) -> Thinking:
    pieces = [
        _text(part.get("text"))
        for key in ("summary", "content")
        for part in item.get(key) or ()
        if isinstance(part, dict)
    ]
    signature = item.get("encrypted_content")
    return Thinking(
        text="".join(pieces), signature=signature if isinstance(signature, str) else None
    )


def _call(item: dict[str, Any]) -> ToolCall:
    return ToolCall(
        id=_text(item.get("call_id")),
        name=_text(item.get("name")),
        arguments=_text(item.get("arguments")),
    )


def completion(data: dict[str, Any]) -> ChatResponse:
    """A response object (already checked to have its `output` list) as the canonical
    answer (`native`: the response itself)."""
    parts: list[AnswerPart] = []
    for item in data.get("output") or ():
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "reasoning":
            parts.append(_reasoning(item))
        elif kind == "function_call":
            parts.append(_call(item))
        elif kind == "message":
            for part in item.get("content") or ():
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "output_text":
                    parts.append(Text(_text(part.get("text"))))
                elif part.get("type") == "refusal":
                    parts.append(Refusal(_text(part.get("refusal"))))
        # Built-in tool items have no canonical part; they stay in `native`.
    has_calls = any(isinstance(part, ToolCall) for part in parts)
    created = _count(data.get("created_at"))
    return ChatResponse(
        id=_text(data.get("id")),
        model=_text(data.get("model")),
        parts=parts,
        finish_reason=finish_reason(data, has_calls=has_calls),
        usage=parse_usage(data.get("usage")),
        created=created or 0,
        wire=WIRE,
        native=data,
    )


class ResponsesStream:
    """Responses SSE events as `Chunk`s: each event's bytes with its typed deltas."""

    wire = WIRE

    def __init__(self, response: aiohttp.ClientResponse, deployment: Deployment) -> None:
        self._response = response
        self._provider = deployment.provider
        self._secret = deployment.api_key  # masked in relayed error messages
        self._kind: Any = None  # the type of the last event read
        self.id = ""
        self.model = deployment.upstream_model
        self.created = int(time.time())
        self.usage = Usage()
        self.finish_reason: FinishReason | None = None
        self._calls: dict[Any, int] = {}  # upstream item id → canonical call index
        self._started = 0  # calls started so far
        self._argued: set[int] = set()  # calls whose arguments came in fragments
        self._done = False

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[Chunk]:
        held = HeldEvents(HELD_EVENTS)
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
        raise broken_stream(self._provider, "ended without response.completed")

    def _translate(self, payload: bytes) -> tuple[Delta, ...]:
        data = json_object(payload)
        if data is None:
            raise broken_stream(self._provider, "malformed event")
        kind = self._kind = data.get("type")
        if kind == "response.output_text.delta":
            text = _text(data.get("delta"))
            return (TextDelta(text),) if text else ()
        if kind == "response.function_call_arguments.delta":
            index = self._call_index(data)
            fragment = _text(data.get("delta"))
            if not fragment or index is None:
                return ()
            self._argued.add(index)
            return (ToolArgumentsDelta(index, fragment),)
        if kind in _THINKING_DELTAS:
            text = _text(data.get("delta"))
            return (ThinkingDelta(text),) if text else ()
        if kind == "response.refusal.delta":
            text = _text(data.get("delta"))
            return (RefusalDelta(text),) if text else ()
        if kind == "response.output_item.added":
            return self._item_added(data)
        if kind == "response.output_item.done":
            return self._item_done(data)
        if kind in ("response.created", "response.in_progress"):
            self._describe(data.get("response"))
            return ()
        if kind in _FINAL_EVENTS:
            return self._finish(data.get("response"))
        if kind in ("error", "response.failed"):
            code, message = error_fields(data)
            raise stream_error_event(self._provider, code, message, secret=self._secret)
        return ()  # other events (annotations, built-in tools' progress): their bytes alone

    def _describe(self, response: Any) -> None:
        if not isinstance(response, dict) or self.id:
            return
        answer_id, model = response.get("id"), response.get("model")
        if isinstance(answer_id, str) and answer_id:
            self.id = answer_id
        if isinstance(model, str) and model:
            self.model = model
        created = _count(response.get("created_at"))
        if created is not None:
            self.created = created

    def _item_added(self, data: dict[str, Any]) -> tuple[Delta, ...]:
        item = data.get("item")
        if not isinstance(item, dict) or item.get("type") != "function_call":
            return ()
        index = self._started
        self._started += 1
        # Argument deltas name their item by id; older streams by output index alone.
        self._calls[item.get("id") or data.get("output_index")] = index
        self._calls.setdefault(data.get("output_index"), index)
        start = ToolCallStart(index, _text(item.get("call_id")), _text(item.get("name")))
        arguments = _text(item.get("arguments"))
        if not arguments:
            return (start,)
        self._argued.add(index)
        return (start, ToolArgumentsDelta(index, arguments))

    def _call_index(self, data: dict[str, Any]) -> int | None:
        return self._calls.get(data.get("item_id"), self._calls.get(data.get("output_index")))

    def _item_done(self, data: dict[str, Any]) -> tuple[Delta, ...]:
        item = data.get("item")
        if not isinstance(item, dict):
            return ()
        if item.get("type") == "reasoning" and item.get("encrypted_content"):
            return (ThinkingDelta(signature=str(item["encrypted_content"])),)
        if item.get("type") == "function_call":
            # Arguments that came whole with the finished item, never in fragments.
            index = self._calls.get(item.get("id"), self._call_index(data))
            arguments = _text(item.get("arguments"))
            if index is not None and index not in self._argued and arguments:
                self._argued.add(index)
                return (ToolArgumentsDelta(index, arguments),)
        return ()

    def _finish(self, response: Any) -> tuple[Delta, ...]:
        self._done = True
        response = response if isinstance(response, dict) else {}
        self._describe(response)
        self.usage = parse_usage(response.get("usage"))
        reason = finish_reason(response, has_calls=self._started > 0)
        self.finish_reason = reason
        return (Finish(reason),)

    async def aclose(self) -> None:
        self._response.close()
