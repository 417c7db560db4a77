"""The Anthropic Messages provider (`POST {base}/v1/messages`).

Requests are translated in `anthropic_translate`; this module sends them and turns answers
back into OpenAI's shapes: text blocks become content, `tool_use` blocks tool calls (their
`input_json_delta` fragments streamed as OpenAI argument fragments, keyed by call index),
thinking blocks are never shown as answer text, and the forced answer tool of JSON mode
becomes the message text again. Streams tolerate `ping` events and the whitespace padding
Anthropic puts after its JSON; an `event: error` after HTTP 200 ends the stream with the
error it names (`overloaded_error` is `provider_unavailable`). The role-only first chunk is
held until the first content, so a stream that fails before any can still fall back.

Usage: Anthropic's `input_tokens` excludes cache reads and writes, so the canonical input is
`input_tokens + cache_creation_input_tokens + cache_read_input_tokens`, with the 1-hour writes
(`cache_creation.ephemeral_1h_input_tokens`) kept apart, since they cost more; in streams
`message_delta` carries the final cumulative output count, which replaces (never adds to) the
provisional one of `message_start`. Thinking tokens are inside `output_tokens` and not
reported apart, so `reasoning_tokens` is unknown (None) when thinking was on, and 0 only when
it was off.

A request the caller sent in Anthropic's own format is forwarded as it is, and its answer
handed back as received beside the translation (`anthropic_passthrough`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from ..canonical import ChatRequest, ChatResponse, Chunk, Deployment, Usage
from ..errors import GatewayError
from .anthropic_passthrough import HeldEvents, count_body, forwarded_headers, not_a_count, outgoing
from .anthropic_translate import ANSWER_TOOL, ANTHROPIC_VERSION
from .base import (
    ErrorReader,
    PooledSession,
    broken_stream,
    completion_limits,
    json_object,
    not_a_completion,
    post_json,
    read_all,
    stream_error_event,
    upstream_error,
)
from .openai_shape import ChunkWriter, FinishReason, completion_body, tool_call
from .sse import sse_blocks, sse_events

DEFAULT_BASE_URL = "https://api.anthropic.com"

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
# What OpenAI's `refusal` says when Anthropic's refusal came with no text of its own (or, in a
# stream, after text already sent as content).
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
    return _error_field(raw, "message")


def _error_field(raw: bytes, name: str) -> str | None:
    error = (json_object(raw) or {}).get("error")
    value = error.get(name) if isinstance(error, dict) else None
    return value if isinstance(value, str) else None


def read_error(provider: str) -> ErrorReader:
    def read(status: int, raw: bytes, headers: Mapping[str, str]) -> GatewayError:
        return upstream_error(provider, status, error_message(raw), headers.get("retry-after"))

    return read


def completion(data: dict[str, Any], *, answer_tool: bool, thinking: bool = False) -> ChatResponse:
    """A Messages API response as a `chat.completion`."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in data.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "tool_use" and answer_tool and block.get("name") == ANSWER_TOOL:
            texts.append(orjson.dumps(block.get("input") or {}).decode())
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(tool_call(block["id"], block["name"], arguments))
        # thinking / redacted_thinking and server-tool blocks are not answer text.
    usage = parse_usage(data.get("usage"))
    thought = thinking or any(
        block.get("type") in _THINKING_BLOCKS for block in data.get("content") or ()
    )
    usage.reasoning_tokens = None if thought else 0
    content = "".join(texts) if texts or not calls else None
    refusal = None
    if data.get("stop_reason") == "refusal":
        # As OpenAI answers a refusal: no content, the refusal's text in `refusal`.
        refusal, content = content or REFUSAL_NOTE, None
    body = completion_body(
        completion_id=str(data.get("id") or ""),
        model=str(data.get("model") or ""),
        content=content,
        refusal=refusal,
        tool_calls=calls,
        finish_reason=finish_reason(data.get("stop_reason"), has_calls=bool(calls)),
        usage=usage,
    )
    return ChatResponse(body=body, usage=usage)


@dataclass(slots=True)
class _Block:
    """A content block being streamed: what it becomes on the OpenAI side."""

    kind: str  # "text", "tool", "answer" (the JSON-mode answer tool) or "other"
    tool_index: int = -1
    sent: bool = False  # whether any argument / answer text was sent for it


class AnthropicStream:
    """Anthropic SSE events as canonical `chat.completion.chunk`s; with `native`, each event
    is also handed over as received (`anthropic_passthrough.HeldEvents`)."""

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        provider: str,
        answer_tool: bool,
        thinking: bool = False,
        *,
        secret: str = "",
        native: bool = False,
    ) -> None:
        self._response = response
        self._native = native
        self._kind: Any = None  # the type of the last event translated
        self._provider = provider
        self._secret = secret  # the deployment's key: masked in relayed error events
        self._answer_tool = answer_tool
        self._thinking = thinking
        self.usage = Usage()
        self.finish_reason: str | None = None
        self._writer: ChunkWriter | None = None
        self._raw_usage: dict[str, Any] = {}
        self._blocks: dict[int, _Block] = {}
        self._tools = 0
        self._done = False
        self._opened = False

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._relayed() if self._native else self._chunks()

    async def _chunks(self) -> AsyncIterator[Chunk]:
        try:
            async for _name, payload in sse_events(self._response):
                chunks = self._translate(payload)
                if chunks and not self._opened and self._writer is not None:
                    # The role-only opening goes out with the first content, not on
                    # message_start: a stream failing before any content can still fall back.
                    self._opened = True
                    yield self._writer.opening(more=True)
                for chunk in chunks:
                    yield chunk
                if self._done:
                    return
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise broken_stream(self._provider, type(exc).__name__) from None
        finally:
            self._response.release()
        raise broken_stream(self._provider, "ended without message_stop")

    async def _relayed(self) -> AsyncIterator[Chunk]:
        held = HeldEvents()
        try:
            async for event, payload, more in sse_blocks(self._response):
                chunks = self._translate(payload)
                for chunk in held.add(self._kind, event, chunks, more=more, opening=self._open):
                    yield chunk
                if self._done:
                    return
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise broken_stream(self._provider, type(exc).__name__) from None
        finally:
            self._response.release()
        raise broken_stream(self._provider, "ended without message_stop")

    def _open(self) -> Chunk:
        # Only content is ever released, and any content event has passed message_start.
        assert self._writer is not None
        return self._writer.opening(more=True)

    def _translate(self, payload: bytes) -> list[Chunk]:
        data = json_object(payload)  # orjson tolerates Anthropic's trailing spaces
        if data is None:
            raise broken_stream(self._provider, "malformed event")
        kind = self._kind = data.get("type")
        if kind == "ping":
            return []
        if kind == "error":
            raise stream_error_event(
                self._provider,
                _error_field(payload, "type"),
                error_message(payload),
                secret=self._secret,
            )
        if kind == "message_start":
            message = data.get("message") or {}
            self._writer = ChunkWriter(
                str(message.get("id") or ""), str(message.get("model") or "")
            )
            self._update_usage(message.get("usage"), final=False)
            return []  # the opening chunk waits for the first content (see `_chunks`)
        writer = self._writer
        if writer is None:
            raise broken_stream(self._provider, "event before message_start")
        if kind == "content_block_start":
            return self._block_start(writer, data)
        if kind == "content_block_delta":
            return self._block_delta(writer, data)
        if kind == "content_block_stop":
            block = self._blocks.get(data.get("index", -1))
            if block is not None and block.kind in ("tool", "answer") and not block.sent:
                # Empty input arrives as no fragments at all; OpenAI clients expect JSON.
                return [self._fragment(writer, block, "{}")]
            return []
        if kind == "message_delta":
            self._update_usage(data.get("usage"), final=True)
            stop = (data.get("delta") or {}).get("stop_reason")
            reason = finish_reason(stop, has_calls=self._tools > 0)
            self.finish_reason = reason
            if stop == "refusal":
                return [writer.refusal(REFUSAL_NOTE), writer.finish(reason)]
            return [writer.finish(reason)]
        if kind == "message_stop":
            self._done = True
        return []  # unknown event types are tolerated and ignored

    def _block_start(self, writer: ChunkWriter, data: dict[str, Any]) -> list[Chunk]:
        block = data.get("content_block") or {}
        index = data.get("index", -1)
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = _Block("text")
            text = block.get("text")
            return [writer.text(text)] if text else []
        if kind == "tool_use" and self._answer_tool and block.get("name") == ANSWER_TOOL:
            self._blocks[index] = _Block("answer")
            return []
        if kind == "tool_use":
            self._blocks[index] = _Block("tool", tool_index=self._tools)
            self._tools += 1
            return [
                writer.tool_start(self._tools - 1, str(block.get("id")), str(block.get("name")))
            ]
        self._blocks[index] = _Block("other")  # thinking, redacted_thinking, server tools
        if kind in _THINKING_BLOCKS:
            self._thinking = True
            self.usage.reasoning_tokens = None
        return []

    def _block_delta(self, writer: ChunkWriter, data: dict[str, Any]) -> list[Chunk]:
        block = self._blocks.get(data.get("index", -1))
        delta = data.get("delta") or {}
        if block is None:
            return []
        if block.kind == "text" and delta.get("type") == "text_delta":
            text = delta.get("text")
            return [writer.text(text)] if text else []
        if block.kind in ("tool", "answer") and delta.get("type") == "input_json_delta":
            fragment = delta.get("partial_json")
            return [self._fragment(writer, block, fragment)] if fragment else []
        return []  # thinking_delta, signature_delta, citations: never answer text

    def _fragment(self, writer: ChunkWriter, block: _Block, fragment: str) -> Chunk:
        block.sent = True
        if block.kind == "answer":
            return writer.text(fragment)
        return writer.tool_arguments(block.tool_index, fragment)

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


class AnthropicProvider(PooledSession):
    kind = "anthropic"

    def _headers(
        self, deployment: Deployment, forwarded: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "anthropic-version": ANTHROPIC_VERSION}
        headers.update(forwarded_headers(forwarded))
        if deployment.api_key:
            headers["x-api-key"] = deployment.api_key
        return headers

    async def _post(
        self,
        body: dict[str, Any],
        deployment: Deployment,
        limits: aiohttp.ClientTimeout,
        retry_started: bool = True,
        *,
        path: str = "/v1/messages",
        forwarded: Mapping[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        return await post_json(
            self.session,
            f"{deployment.base_url or DEFAULT_BASE_URL}{path}",
            body,
            self._headers(deployment, forwarded),
            provider=deployment.provider,
            limits=limits,
            read_error=read_error(deployment.provider),
            secret=deployment.api_key,
            retry_started=retry_started,
        )

    async def complete(self, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        out = outgoing(request, deployment, stream=False)
        timeout = completion_limits(deployment, out.body)
        retry = deployment.retry_started_timeouts
        response = await self._post(out.body, deployment, timeout, retry, forwarded=out.forwarded)
        data = json_object(await read_all(response, deployment.provider, retry_started=retry))
        if data is None or not isinstance(data.get("content"), list):
            raise not_a_completion(deployment.provider)
        answer = completion(data, answer_tool=out.answer_tool, thinking=out.thinking)
        if out.native:
            answer.native = data  # as received: thinking signatures, server tool blocks
        return answer

    async def stream(self, request: ChatRequest, deployment: Deployment) -> AnthropicStream:
        out = outgoing(request, deployment, stream=True)
        # Time to the headers and between events, not the whole stream.
        timeout = aiohttp.ClientTimeout(sock_connect=10, sock_read=deployment.timeout_s)
        response = await self._post(out.body, deployment, timeout, forwarded=out.forwarded)
        return AnthropicStream(
            response,
            deployment.provider,
            out.answer_tool,
            out.thinking,
            secret=deployment.api_key,
            native=out.native,
        )

    async def count_tokens(
        self,
        native_body: Mapping[str, Any],
        deployment: Deployment,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """The prompt's input tokens as Anthropic counts them (`POST /v1/messages/count_tokens`)
        for a Messages body; `headers`: the caller's, of which `anthropic-beta` is forwarded."""
        body = count_body(native_body, deployment)
        timeout = aiohttp.ClientTimeout(total=deployment.timeout_s, sock_connect=10)
        response = await self._post(
            body, deployment, timeout, path="/v1/messages/count_tokens", forwarded=headers
        )
        data = json_object(await read_all(response, deployment.provider)) or {}
        tokens = data.get("input_tokens")
        if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
            raise not_a_count(deployment.provider)
        return tokens
