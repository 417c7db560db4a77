"""A stream's typed deltas → Anthropic's stream events (`MessageStream`), judged by the
official anthropic SDK: its strict event models, its stream accumulator's final message,
and the event order Anthropic documents. Fed with recorded OpenAI streams (as typed deltas),
and with recorded Anthropic streams taken through the Anthropic provider over a socket and
encoded from its typed deltas — which must come out as the message the SDK accumulates from
the original recording, thinking and its signature included. And the surface's choice
(`MessageEvents`): an Anthropic stream's own bytes relayed, any other's deltas encoded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import pytest

from routeplex_gateway.api.anthropic import MessageEvents
from routeplex_gateway.api.anthropic_stream import MessageStream
from routeplex_gateway.canonical import (
    Chunk,
    Delta,
    Deployment,
    Finish,
    FinishReason,
    RefusalDelta,
    TextDelta,
    ThinkingDelta,
    ToolArgumentsDelta,
    ToolCallStart,
    Usage,
)
from routeplex_gateway.errors import ErrorCode, GatewayError
from routeplex_gateway.exchange import Exchange as GatewayExchange
from routeplex_gateway.metering.record import Endpoint
from routeplex_gateway.providers import openai as openai_provider
from routeplex_gateway.providers.anthropic import AnthropicProvider
from tests.support import anthropic_sdk
from tests.support.cassettes import Exchange, load, replay
from tests.support.chat import openai_request

REQUEST_ID = "req_0190a1b2c3d4e5f60718293a4b5c6d7e"
MSG_ID = "msg_0190a1b2c3d4e5f60718293a4b5c6d7e"
_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
}


def _typed(chunk: dict[str, Any]) -> Chunk:
    """An OpenAI chunk's first choice as the typed deltas a provider hands over."""
    deltas: list[Delta] = []
    choice = chunk["choices"][0]
    delta = choice.get("delta") or {}
    if delta.get("content"):
        deltas.append(TextDelta(delta["content"]))
    if delta.get("refusal"):
        deltas.append(RefusalDelta(delta["refusal"]))
    for fragment in delta.get("tool_calls") or ():
        function = fragment.get("function") or {}
        if "id" in fragment:
            deltas.append(ToolCallStart(fragment["index"], fragment["id"], function["name"]))
        if function.get("arguments"):
            deltas.append(ToolArgumentsDelta(fragment["index"], function["arguments"]))
    if choice.get("finish_reason"):
        deltas.append(Finish(_FINISH[choice["finish_reason"]]))
    return Chunk(tuple(deltas))


def _openai_chunks(exchange: Exchange) -> tuple[list[dict[str, Any]], Usage]:
    """A recorded OpenAI stream's chunks, and the usage of its final chunk."""
    chunks = []
    usage = Usage()
    for block in exchange.body.decode().split("\n\n"):
        payload = block.strip().removeprefix("data: ")
        if not payload or payload == "[DONE]":
            continue
        chunk = json.loads(payload)
        if chunk.get("usage"):
            usage = openai_provider.parse_usage(chunk["usage"])
        if chunk["choices"]:
            chunks.append(chunk)
    return chunks, usage


def _encode(
    chunks: list[Chunk],
    usage: Usage,
    finish: str | None = None,
    estimate: int | None = 10,
    model: str = "gpt-4o",
) -> bytes:
    stream = MessageStream()
    out = [stream.start(model, REQUEST_ID, estimate), stream.ping()]
    out += [stream.chunk(chunk) for chunk in chunks]
    out.append(stream.end(finish, usage))
    body = b"".join(out)
    anthropic_sdk.assert_event_order(body)
    return body


OPENAI_STREAMS = [
    ("openai/chat_completions_stream_tool_call_then_text_include_usage.yaml", 0),
    ("openai/chat_completions_stream_tool_call_then_text_include_usage.yaml", 1),
    ("openai/chat_completions_stream_tool_call_raw_headers_ratelimit.yaml", 0),
    ("openai/chat_completions_stream_tool_call_raw_headers_ratelimit.yaml", 1),
]


@pytest.mark.parametrize(("cassette", "turn"), OPENAI_STREAMS)
def test_recorded_openai_stream_accumulates_to_its_answer(cassette: str, turn: int) -> None:
    chunks, usage = _openai_chunks(load(cassette)[turn])
    final = anthropic_sdk.final_message(_encode([_typed(c) for c in chunks], usage))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for fragment in chunk["choices"][0]["delta"].get("tool_calls") or ():
            call = calls.setdefault(fragment["index"], {"arguments": ""})
            if "id" in fragment:
                call.update(id=fragment["id"], name=fragment["function"]["name"])
            call["arguments"] += fragment["function"].get("arguments") or ""
    expected: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    expected += [
        {"type": "tool_use", "id": c["id"], "name": c["name"], "input": json.loads(c["arguments"])}
        for c in calls.values()
    ]
    assert [block.to_dict() for block in final.content] == expected
    finish = chunks[-1]["choices"][0]["finish_reason"]
    assert final.stop_reason == {"stop": "end_turn", "tool_calls": "tool_use"}[finish]
    assert (final.id, final.model, final.stop_sequence) == (MSG_ID, "gpt-4o", None)
    assert usage.input_tokens is not None and usage.output_tokens is not None
    assert final.usage.input_tokens == usage.input_tokens - (usage.cache_read_tokens or 0)
    assert final.usage.output_tokens == usage.output_tokens


def _deployment(url: str) -> Deployment:
    return Deployment(
        provider="anthropic",
        kind="anthropic",
        base_url=url,
        api_key="sk-ant-test",
        upstream_model="claude-x",
        max_output_tokens=8192,
    )


ANTHROPIC_STREAMS = [
    ("anthropic/messages_stream_text_minimal.yaml", 0),
    ("anthropic/messages_stream_text_raw_headers_ratelimit.yaml", 0),
    ("anthropic/messages_stream_parallel_tool_use_then_text.yaml", 0),
    ("anthropic/messages_stream_parallel_tool_use_then_text.yaml", 1),
    ("anthropic/messages_stream_extended_thinking.yaml", 0),
    ("anthropic/messages_stream_tool_use_input_json_delta.chunks.jsonl.txt", 0),
]


@pytest.mark.parametrize(("cassette", "turn"), ANTHROPIC_STREAMS)
async def test_recorded_anthropic_stream_survives_the_canonical_shape(
    cassette: str, turn: int
) -> None:
    """Anthropic's stream → typed deltas (the Anthropic provider, over a socket) →
    Anthropic's stream again: what the SDK accumulates is what it accumulates from the
    recording — text, tool calls, stop reason, token counts. (Thinking is left out of an
    encoded stream; an Anthropic stream reaches this surface relayed, thinking and all.)"""
    exchange = load(cassette)[turn]
    original = anthropic_sdk.final_message(exchange.body)
    provider = AnthropicProvider()
    try:
        with replay([exchange]) as url:
            request = openai_request({"messages": [{"role": "user", "content": "hi"}]}, stream=True)
            upstream = await provider.stream(request, _deployment(url))
            chunks = [chunk async for chunk in upstream]
    finally:
        await provider.close()
    body = _encode(chunks, upstream.usage, upstream.finish_reason, model=original.model)
    final = anthropic_sdk.final_message(body)
    kept = [
        b.to_dict() for b in original.content if b.type not in ("thinking", "redacted_thinking")
    ]
    for block in kept:
        block.pop("caller", None)  # Anthropic's programmatic-calling detail, not in canonical
    assert [b.to_dict() for b in final.content] == kept
    assert final.stop_reason == original.stop_reason
    for name in (
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ):
        assert getattr(final.usage, name) == getattr(original.usage, name), name


# --- the encoder's own rules ----------------------------------------------------------------


def _text(text: str) -> Chunk:
    return Chunk((TextDelta(text),))


def _start(index: int, call_id: str, name: str = "f") -> Chunk:
    return Chunk((ToolCallStart(index, call_id, name),))


def _args(index: int, fragment: str) -> Chunk:
    return Chunk((ToolArgumentsDelta(index, fragment),))


def _finish(reason: FinishReason, stop_sequence: str | None = None) -> Chunk:
    return Chunk((Finish(reason, stop_sequence),))


def test_event_sequence_text_then_tools() -> None:
    chunks = [
        _text(""),
        _text("Checking"),
        _text("."),
        _start(0, "call_a", "lookup"),
        _args(0, '{"q":'),
        _args(0, '"x"}'),
        Chunk((ToolCallStart(1, "call_b", "lookup"), ToolArgumentsDelta(1, '{"q":"y"}'))),
        _finish("tool_calls"),
    ]
    body = _encode(chunks, Usage(120, 30, cache_read_tokens=100, cache_write_tokens=0))
    names = [
        (name, data.get("index"), (data.get("delta") or {}).get("type"))
        for name, data in anthropic_sdk.events(body)
    ]
    assert names == [
        ("message_start", None, None),
        ("ping", None, None),
        ("content_block_start", 0, None),
        ("content_block_delta", 0, "text_delta"),
        ("content_block_delta", 0, "text_delta"),
        ("content_block_stop", 0, None),
        ("content_block_start", 1, None),
        ("content_block_delta", 1, "input_json_delta"),
        ("content_block_delta", 1, "input_json_delta"),
        ("content_block_stop", 1, None),
        ("content_block_start", 2, None),
        ("content_block_delta", 2, "input_json_delta"),
        ("content_block_stop", 2, None),
        ("message_delta", None, None),
        ("message_stop", None, None),
    ]
    events = dict(anthropic_sdk.events(body))
    assert events["message_start"]["message"]["usage"]["input_tokens"] == 10  # the estimate
    assert events["message_delta"] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {
            "output_tokens": 30,
            "input_tokens": 20,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 100,
        },
    }
    final = anthropic_sdk.final_message(body)
    assert [b.to_dict() for b in final.content] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_a", "name": "lookup", "input": {"q": "x"}},
        {"type": "tool_use", "id": "call_b", "name": "lookup", "input": {"q": "y"}},
    ]
    assert (final.usage.input_tokens, final.usage.cache_read_input_tokens) == (20, 100)


def test_another_providers_streamed_reasoning_is_left_out() -> None:
    chunks = [
        Chunk((ThinkingDelta("Let me"), ThinkingDelta(" see."))),
        Chunk((ThinkingDelta(signature="c2ln"),)),
        Chunk((ThinkingDelta("Again."),)),  # after a signature: a new block
        Chunk((ThinkingDelta(signature="ZGF0YQ==", redacted=True),)),
        _text("Done."),
        _finish("stop"),
    ]
    body = _encode(chunks, Usage(1, 1))
    deltas = [
        (data["index"], data["delta"]["type"])
        for name, data in anthropic_sdk.events(body)
        if name == "content_block_delta"
    ]
    assert deltas == [(0, "text_delta")]
    final = anthropic_sdk.final_message(body)
    assert [b.to_dict() for b in final.content] == [{"type": "text", "text": "Done."}]


def test_a_stop_sequence_ends_as_stop_sequence() -> None:
    final = anthropic_sdk.final_message(_encode([_text("a"), _finish("stop", "END")], Usage(1, 1)))
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", "END")
    cut = anthropic_sdk.final_message(_encode([_text("a"), _finish("length", "END")], Usage(1, 1)))
    assert (cut.stop_reason, cut.stop_sequence) == ("max_tokens", None)


def test_text_after_a_tool_call_opens_a_new_block() -> None:
    chunks = [_start(0, "call_a"), _args(0, "{}"), _text("done"), _finish("stop")]
    final = anthropic_sdk.final_message(_encode(chunks, Usage(1, 1)))
    assert [b.type for b in final.content] == ["tool_use", "text"]
    assert final.stop_reason == "end_turn"


def test_interleaved_call_fragments_reach_their_block() -> None:
    """No upstream interleaves calls, but if one did, each fragment still lands in its own
    block: the SDK's accumulator reads deltas by index."""
    stream = MessageStream()
    events = [
        stream.start("m", REQUEST_ID, None),
        stream.chunk(Chunk((ToolCallStart(0, "call_a", "f"), ToolArgumentsDelta(0, '{"a":')))),
        stream.chunk(Chunk((ToolCallStart(1, "call_b", "f"), ToolArgumentsDelta(1, '{"b":2}')))),
        stream.chunk(_args(0, "1}")),
        stream.end("tool_calls", Usage(1, 1)),
    ]
    final = anthropic_sdk.final_message(b"".join(events))
    assert [b.to_dict()["input"] for b in final.content] == [{"a": 1}, {"b": 2}]


def test_call_without_id_gets_one() -> None:
    final = anthropic_sdk.final_message(
        _encode([_start(0, ""), _args(0, "{}")], Usage(1, 1), "tool_calls")
    )
    assert final.content[0].to_dict()["id"] == "toolu_0190a1b2c3d4e5f60718293a4b5c6d7e_0"


def test_refusal_and_content_filter_end_as_refusal() -> None:
    refused = [Chunk((RefusalDelta("I can't help with that."),)), _finish("stop")]
    final = anthropic_sdk.final_message(_encode(refused, Usage(1, 1)))
    assert [b.to_dict() for b in final.content] == [
        {"type": "text", "text": "I can't help with that."}
    ]
    assert final.stop_reason == "refusal"
    filtered = [_text("Part"), _finish("content_filter")]
    assert anthropic_sdk.final_message(_encode(filtered, Usage(1, 1))).stop_reason == "refusal"


@pytest.mark.parametrize(
    ("argument", "chunk_finish", "stop_reason"),
    [("length", None, "max_tokens"), (None, "length", "max_tokens"), (None, None, "end_turn")],
)
def test_stop_reason_from_end_or_the_last_chunk(
    argument: str | None, chunk_finish: FinishReason | None, stop_reason: str
) -> None:
    chunks = [_text("cut"), _finish(chunk_finish) if chunk_finish else Chunk()]
    final = anthropic_sdk.final_message(_encode(chunks, Usage(1, 1), argument))
    assert final.stop_reason == stop_reason


def test_unknown_usage_keeps_the_estimate_and_says_zero_output() -> None:
    body = _encode([_text("x")], Usage(), "stop", estimate=42)
    delta = dict(anthropic_sdk.events(body))["message_delta"]
    assert delta["usage"] == {"output_tokens": 0}
    final = anthropic_sdk.final_message(body)
    assert (final.usage.input_tokens, final.usage.output_tokens) == (42, 0)
    no_estimate = anthropic_sdk.final_message(_encode([], Usage(), "stop", estimate=None))
    assert (no_estimate.usage.input_tokens, no_estimate.content) == (0, [])


def test_thinking_tokens_are_reported_when_known() -> None:
    body = _encode([_text("x")], Usage(5, 50, reasoning_tokens=40), "stop")
    final = anthropic_sdk.final_message(body)
    assert final.usage.output_tokens_details is not None
    assert final.usage.output_tokens_details.thinking_tokens == 40


def test_x_routeplex_rides_on_message_delta() -> None:
    info = {
        "request_id": REQUEST_ID,
        "provider": "openai",
        "usage_details": {"cache_read_tokens": None},
    }
    stream = MessageStream()
    body = stream.start("m", REQUEST_ID, 1) + stream.end("stop", Usage(1, 1), x_routeplex=info)
    anthropic_sdk.assert_event_order(body)
    assert dict(anthropic_sdk.events(body))["message_delta"]["x_routeplex"] == info
    with anthropic_sdk.client(body).messages.stream(**anthropic_sdk.REQUEST) as events:
        deltas = [e for e in events if e.type == "message_delta"]
    assert deltas[0].to_dict()["x_routeplex"] == info


def test_error_event_ends_the_stream_the_anthropic_way() -> None:
    stream = MessageStream()
    error = GatewayError(
        ErrorCode.PROVIDER_UNAVAILABLE, "The provider is overloaded.", provider_message="busy"
    )
    body = b"".join(
        [
            stream.start("m", REQUEST_ID, 3),
            stream.chunk(_text("Half an ans")),
            stream.error(error),
        ]
    )
    name, data = anthropic_sdk.events(body)[-1]
    assert (name, data) == (
        "error",
        {
            "type": "error",
            "error": {
                "type": "overloaded_error",
                "message": "The provider is overloaded. Provider said: busy",
            },
        },
    )
    with pytest.raises(anthropic.APIStatusError) as raised:
        anthropic_sdk.final_message(body)
    assert raised.value.body == data
    with pytest.raises(RuntimeError):
        stream.chunk(_text("more"))


def test_chunks_outside_start_and_end_are_a_programming_error() -> None:
    stream = MessageStream()
    with pytest.raises(RuntimeError):
        stream.chunk(_text("x"))
    with pytest.raises(RuntimeError):
        stream.end("stop", Usage())
    stream.start("m", REQUEST_ID, None)
    stream.end("stop", Usage())
    with pytest.raises(RuntimeError):
        stream.end("stop", Usage())


def test_chunks_without_content_make_no_events() -> None:
    stream = MessageStream()
    stream.start("m", REQUEST_ID, None)
    assert stream.chunk(Chunk((TextDelta(""), RefusalDelta(""), ThinkingDelta()))) == b""
    assert stream.chunk(Chunk()) == b""
    assert stream.chunk(_finish("stop")) == b""
    assert stream.chunk(_start(0, "call_a")) != b""  # a call opens its block at once


# --- the surface: relay or encode -----------------------------------------------------------


@dataclass
class _Stream:
    """A started stream as a provider hands it over (`ChatStream`)."""

    wire: str
    id: str = "up-1"
    model: str = "m"
    created: int = 0
    usage: Usage = field(default_factory=Usage)
    finish_reason: FinishReason | None = "stop"

    async def _none(self) -> AsyncIterator[Chunk]:
        return
        yield

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._none()

    async def aclose(self) -> None:
        return None


def _events(stream: _Stream, chunks: list[Chunk]) -> bytes:
    ex = GatewayExchange(Endpoint.ANTHROPIC_MESSAGES, request_id=REQUEST_ID)
    ex.usage = Usage(3, 2)
    encoder = MessageEvents(ex, {"messages": [{"role": "user", "content": "hi"}]})
    out = [encoder.open(stream, chunks[0] if chunks else None)]
    out += [encoder.chunk(chunk) for chunk in chunks[1:]]
    out.append(encoder.close(stream))
    return b"".join(out)


def test_an_anthropic_stream_is_relayed_as_it_came() -> None:
    exchange = load("anthropic/messages_stream_text_minimal.yaml")[0]
    raw = exchange.body.replace(b"\r\n", b"\n")
    pieces = [block + b"\n\n" for block in raw.split(b"\n\n") if block.strip()]
    # The typed deltas ride along, and must not be encoded a second time.
    chunks = [Chunk((TextDelta("ignored"),), native=piece) for piece in pieces]
    assert _events(_Stream("anthropic"), chunks) == b"".join(pieces)


def test_an_anthropic_stream_without_bytes_of_its_own_still_ends_whole() -> None:
    body = _events(_Stream("anthropic"), [])
    anthropic_sdk.assert_event_order(body)
    assert anthropic_sdk.final_message(body).stop_reason == "end_turn"


def test_any_other_stream_is_encoded_from_its_deltas() -> None:
    chunks = [Chunk((TextDelta("Hi"),), native=b'{"ignored": true}'), _text(" there")]
    body = _events(_Stream("openai"), chunks)
    anthropic_sdk.assert_event_order(body)
    final = anthropic_sdk.final_message(body)
    assert [b.to_dict() for b in final.content] == [{"type": "text", "text": "Hi there"}]
    assert (final.id, final.usage.input_tokens, final.usage.output_tokens) == (MSG_ID, 3, 2)
