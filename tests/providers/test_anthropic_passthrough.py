"""Anthropic passthrough over real sockets: a body the caller sent in Anthropic's own format is
forwarded untouched (thinking signatures, cache_control, server tools, `anthropic-beta`), and
the answer comes back as received — the stream event for event, byte for byte — beside its
typed parts and deltas; count_tokens asks Anthropic's own endpoint. The upstream is the simulator
(behind a small recording proxy, to compare bytes), or recorded real traffic replayed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from routeplex_gateway.canonical import (
    CacheMark,
    ChatRequest,
    Chunk,
    Deployment,
    Message,
    NativeRequest,
    Reasoning,
    Text,
    TextDelta,
    Thinking,
    ThinkingDelta,
)
from routeplex_gateway.errors import ErrorCode, GatewayError
from routeplex_gateway.providers.anthropic import AnthropicProvider, AnthropicStream
from tests.support.cassettes import Exchange, Received, load, replay
from tests.support.chat import openai_request
from tests.support.servers import serve_in_thread

MODEL = "claude-sonnet-4-20250514"
HELLO: Any = [{"role": "user", "content": "hello"}]
BETA = "context-management-2025-06-27,interleaved-thinking-2025-05-14"
SIGNED = "EqQBCkgIARABGAIiQL9/signed+by+anthropic=="
# Everything a translation through OpenAI's shape would lose or refuse.
RICH: dict[str, Any] = {
    "model": "claude-sonnet-4-5",  # the caller's name: the deployment's replaces it
    "max_tokens": 4000,
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
    "metadata": {"user_id": "caller-7"},
    "container": "container_011",
    "cache_control": {"type": "ephemeral"},
    "messages": [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "A greeting.", "signature": SIGNED},
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/"},
                {"type": "text", "text": "Hello!"},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "again",
                    "cache_control": {"type": "ephemeral", "ttl": "1h"},
                }
            ],
        },
    ],
}
CALLER_HEADERS = {"Anthropic-Beta": BETA, "x-api-key": "sk-caller", "authorization": "Bearer x"}


def _deployment(url: str, model: str = MODEL) -> Deployment:
    return Deployment(
        provider="anthropic",
        kind="anthropic",
        base_url=url,
        api_key="sk-ant-gw",
        upstream_model=model,
    )


def _request(body: dict[str, Any], *, stream: bool, cap: int | None = None) -> ChatRequest:
    native = NativeRequest(wire="anthropic", body=body, headers=dict(CALLER_HEADERS))
    # The typed messages are the codec's decoding; passthrough never reads them.
    return ChatRequest(
        messages=[Message("user", (Text("hello"),))],
        stream=stream,
        max_output_tokens=cap,
        native=native,
    )


@dataclass
class Recording:
    """What went through the proxy: each request (path, headers, body) and answer's bytes."""

    requests: list[Received] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)


@contextmanager
def recording_proxy(target: str) -> Iterator[tuple[str, Recording]]:
    """A proxy in front of the simulator that keeps the exact bytes it answered."""
    seen = Recording()

    async def forward(request: Request) -> Response:
        raw = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        seen.requests.append(Received(request.url.path, headers, orjson.loads(raw)))
        sent = {k: v for k, v in headers.items() if k not in ("host", "content-length")}
        async with httpx.AsyncClient() as client:
            answer = await client.post(target + request.url.path, content=raw, headers=sent)
        seen.answers.append(answer.content)
        kind = answer.headers.get("content-type")
        return Response(answer.content, status_code=answer.status_code, media_type=kind)

    app = Starlette(routes=[Route("/{path:path}", forward, methods=["POST"])])
    with serve_in_thread(app) as url:
        yield url, seen


@asynccontextmanager
async def provider() -> AsyncIterator[AnthropicProvider]:
    made = AnthropicProvider()
    try:
        yield made
    finally:
        await made.close()


async def _drain(stream: AnthropicStream) -> list[Chunk]:
    return [chunk async for chunk in stream]


def _events(raw: bytes) -> list[bytes]:
    """An SSE body as its events, each with its blank line."""
    return [block + b"\n\n" for block in raw.split(b"\n\n") if block]


# --- the request: untouched but for the model, stream and a lowered cap ----------------------


async def test_the_callers_body_and_beta_header_reach_anthropic_untouched(
    simulator_url: str,
) -> None:
    with recording_proxy(simulator_url) as (url, seen):
        async with provider() as anthropic:
            answer = await anthropic.complete(_request(RICH, stream=False), _deployment(url))
    [sent] = seen.requests
    assert sent.path == "/v1/messages"
    assert sent.body == {**RICH, "model": MODEL, "stream": False}  # nothing else changed
    assert sent.headers["anthropic-beta"] == BETA
    # The gateway's own credentials and version; none of the caller's auth headers.
    assert sent.headers["x-api-key"] == "sk-ant-gw" and "authorization" not in sent.headers
    assert sent.headers["anthropic-version"] == "2023-06-01"

    [raw] = seen.answers
    assert answer.native == orjson.loads(raw)  # the message exactly as received
    assert answer.wire == "anthropic"
    thought, said = answer.native["content"]
    assert (thought["type"], said["type"]) == ("thinking", "text") and thought["signature"]
    # ... and its typed parts all the same, for metering and the other surfaces: the
    # thinking with its signature, then the text.
    assert answer.parts == [
        Thinking(text=thought["thinking"], signature=thought["signature"]),
        Text(said["text"]),
    ]
    assert answer.text() == said["text"] and answer.finish_reason == "stop"
    usage = answer.native["usage"]
    assert answer.usage.input_tokens == usage["input_tokens"] + usage["cache_creation_input_tokens"]
    assert answer.usage.cache_write_tokens == usage["cache_creation_input_tokens"] > 0
    assert answer.usage.output_tokens == usage["output_tokens"]
    assert answer.usage.reasoning_tokens is None  # thinking was on: unknown, not 0


async def test_max_tokens_is_lowered_only_to_the_gateways_cap() -> None:
    [recorded] = load("anthropic/messages_nonstream_basic.yaml")
    received: list[Received] = []
    body = {"model": "m", "max_tokens": 500, "messages": HELLO}
    async with provider() as anthropic:
        with replay([recorded, recorded, recorded], received) as url:
            for cap in (100, 1000, None):
                await anthropic.complete(_request(body, stream=False, cap=cap), _deployment(url))
    assert [r.body["max_tokens"] for r in received] == [100, 500, 500]
    assert body["max_tokens"] == 500 and body["model"] == "m"  # the caller's body is kept


# --- the stream: every event as received ------------------------------------------------------


async def test_a_stream_relays_every_event_byte_for_byte(simulator_url: str) -> None:
    with recording_proxy(simulator_url) as (url, seen):
        async with provider() as anthropic:
            stream = await anthropic.stream(_request(RICH, stream=True), _deployment(url))
            chunks = await _drain(stream)
    assert seen.requests[0].body["stream"] is True
    [raw] = seen.answers
    assert b"".join(c.native or b"" for c in chunks) == raw
    for needed in (b"event: ping", b'"signature_delta"', b'"thinking_delta"', b"message_stop"):
        assert needed in raw
    events = _events(raw)
    # Held until the first content: the first chunk carries message_start, the thinking
    # block's start, the ping and the first thinking delta, together.
    assert [type(d) for d in chunks[0].deltas] == [ThinkingDelta]
    assert chunks[0].native == b"".join(events[:4]) and b"thinking_delta" in events[3]
    assert sum(1 for c in chunks if c.native) == len(events) - 3 == len(chunks)
    # The typed deltas beside it, and the stream's own usage, as a translated stream has them.
    deltas = [d for c in chunks for d in c.deltas]
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == _of(events, "text")
    thinking = [d for d in deltas if isinstance(d, ThinkingDelta)]
    assert "".join(d.text for d in thinking) == _of(events, "thinking")
    assert [d.signature for d in thinking if d.signature] == [_of(events, "signature")]
    assert (stream.id, stream.model) == _started(events)
    assert stream.finish_reason == "stop" and stream.usage.output_tokens
    assert stream.usage.reasoning_tokens is None


def _of(events: list[bytes], kind: str) -> str:
    """The `kind` deltas' text of the recorded events, joined."""
    data = [orjson.loads(e.split(b"data: ", 1)[1]) for e in events]
    return "".join(d["delta"][kind] for d in data if d["type"] == "content_block_delta"
                   and d["delta"]["type"] == f"{kind}_delta")  # fmt: skip


def _started(events: list[bytes]) -> tuple[str, str]:
    message = orjson.loads(events[0].split(b"data: ", 1)[1])["message"]
    return message["id"], message["model"]


async def test_recorded_anthropic_traffic_is_relayed_as_it_came() -> None:
    """Real Anthropic bytes (whitespace padding, ping, thinking, signature_delta): relayed
    exactly, and read exactly as the translated stream reads them."""
    [recorded] = load("anthropic/messages_stream_extended_thinking.yaml")
    body = {"model": "m", "max_tokens": 2000, "messages": HELLO}
    async with provider() as anthropic:
        with replay([recorded, recorded]) as url:
            native = await anthropic.stream(_request(body, stream=True), _deployment(url))
            relayed = await _drain(native)
            plain_request = openai_request({"messages": HELLO}, stream=True)
            plain = await anthropic.stream(plain_request, _deployment(url))
            translated = await _drain(plain)
    assert b"".join(c.native or b"" for c in relayed) == recorded.body
    assert any(c.deltas for c in relayed)
    assert relayed == translated  # the same chunks: deltas, bytes and grouping
    assert (native.usage, native.finish_reason) == (plain.usage, plain.finish_reason)
    assert (native.id, native.model, native.wire) == (plain.id, plain.model, "anthropic")
    assert not relayed[-1].more  # the last event: nothing further to join it with


# --- failures: before the first content it may fall back; after, it ends with the error -------


async def _overload_after(simulator_url: str, events: int) -> None:
    """The next answer sends `events` events, then Anthropic's mid-stream overload error."""
    fault = {"model": MODEL, "count": 1, "malformed_after_chunks": events}
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{simulator_url}/_simulator/faults", json=fault)
    assert response.status_code == 201


async def test_an_error_before_any_content_leaves_the_caller_untouched(simulator_url: str) -> None:
    body = {"model": "m", "max_tokens": 200, "messages": HELLO}
    await _overload_after(simulator_url, 3)  # message_start, content_block_start, ping
    async with provider() as anthropic:
        stream = await anthropic.stream(_request(body, stream=True), _deployment(simulator_url))
        with pytest.raises(GatewayError) as raised:
            await anext(aiter(stream))  # what the router awaits before committing
    assert raised.value.code == ErrorCode.PROVIDER_UNAVAILABLE and raised.value.retryable


async def test_an_error_event_after_content_ends_the_stream(simulator_url: str) -> None:
    body = {"model": "m", "max_tokens": 200, "messages": HELLO}
    await _overload_after(simulator_url, 5)  # and two text deltas
    relayed: list[bytes] = []
    async with provider() as anthropic:
        stream = await anthropic.stream(_request(body, stream=True), _deployment(simulator_url))
        with pytest.raises(GatewayError) as raised:
            async for chunk in stream:
                relayed.append(chunk.native or b"")
    assert raised.value.code == ErrorCode.PROVIDER_UNAVAILABLE
    events = _events(b"".join(relayed))
    assert len(events) == 5 and b"text_delta" in events[3]
    assert all(b"event: error" not in e for e in events)  # the codec writes its own


# --- count_tokens ----------------------------------------------------------------------------


async def test_count_tokens_asks_anthropic_and_agrees_with_the_usage(simulator_url: str) -> None:
    with recording_proxy(simulator_url) as (url, seen):
        async with provider() as anthropic:
            deployment = _deployment(url)
            count = await anthropic.count_tokens(RICH, deployment, headers=CALLER_HEADERS)
            answer = await anthropic.complete(_request(RICH, stream=False), deployment)
    assert count == answer.usage.input_tokens  # exact: input, cache writes and reads
    sent = seen.requests[0]
    assert sent.path == "/v1/messages/count_tokens"
    # The generation settings the endpoint refuses as extra inputs are left out.
    fields = ("system", "tools", "thinking", "cache_control", "messages")
    assert sent.body == {"model": MODEL, **{name: RICH[name] for name in fields}}
    assert sent.headers["anthropic-beta"] == BETA and "authorization" not in sent.headers


async def test_count_tokens_errors_are_the_providers() -> None:
    [not_found] = load("anthropic/count_tokens_error_404_not_found.yaml")
    nonsense = Exchange({}, 200, "application/json", b'{"tokens": 3}')
    async with provider() as anthropic:
        with replay([not_found, nonsense]) as url:
            with pytest.raises(GatewayError) as refused:
                await anthropic.count_tokens(RICH, _deployment(url, "claude-does-not-exist"))
            with pytest.raises(GatewayError) as garbled:
                await anthropic.count_tokens(RICH, _deployment(url))
    assert refused.value.code == ErrorCode.BAD_REQUEST
    assert refused.value.provider_message == "model: claude-does-not-exist"
    assert garbled.value.code == ErrorCode.PROVIDER_ERROR
    assert "token count" in garbled.value.message


# --- a translated request: the typed shape, thinking kept, the same events beside it ---------


async def test_a_translated_conversation_keeps_its_signed_thinking(simulator_url: str) -> None:
    """A conversation whose assistant turn came with Anthropic's signed thinking (as the
    Anthropic surface decodes it) and is translated, not forwarded: the thinking goes back as
    Anthropic's own blocks, cache marks as `cache_control`, and the stream comes back as
    typed deltas, the signature's included, with every event's bytes beside them."""
    assistant = Message(
        "assistant",
        (
            Thinking(text="A greeting.", signature=SIGNED),
            Thinking(text="", signature="EmwKAhgBEgy3va3pzix/", redacted=True),
            Text("Hello!"),
        ),
    )
    request = ChatRequest(
        messages=[
            Message("system", (Text("Be brief.", CacheMark()),)),
            Message("user", (Text("hi"),)),
            assistant,
            Message("user", (Text("again", CacheMark("1h")),)),
        ],
        stream=True,
        max_output_tokens=4000,
        reasoning=Reasoning(budget=1024),
    )
    with recording_proxy(simulator_url) as (url, seen):
        async with provider() as anthropic:
            stream = await anthropic.stream(request, _deployment(url))
            chunks = await _drain(stream)
    sent = seen.requests[0].body
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert sent["system"] == [
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}
    ]
    # What the caller's own body says, exactly (its first text as a string).
    assert sent["messages"][0] == {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    assert sent["messages"][1:] == RICH["messages"][1:]
    [raw] = seen.answers
    assert b"".join(c.native or b"" for c in chunks) == raw
    thinking = [d for c in chunks for d in c.deltas if isinstance(d, ThinkingDelta)]
    assert "".join(d.text for d in thinking) == _of(_events(raw), "thinking")
    assert [d.signature for d in thinking if d.signature] == [_of(_events(raw), "signature")]
    assert stream.usage.cache_write_tokens and stream.usage.reasoning_tokens is None
