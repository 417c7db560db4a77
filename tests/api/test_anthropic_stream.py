"""Canonical `chat.completion.chunk`s → Anthropic's stream events (`MessageStream`), judged by
the official anthropic SDK: its strict event models, its stream accumulator's final message,
and the event order Anthropic documents. Fed with recorded OpenAI streams, and with recorded
Anthropic streams taken through the Anthropic provider over a socket — which must come out
as the message the SDK accumulates from the original recording."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from routeplex_gateway.api.anthropic_encode import MessageStream
from routeplex_gateway.canonical import ChatRequest, Deployment, Usage
from routeplex_gateway.errors import ErrorCode, GatewayError
from routeplex_gateway.providers import openai as openai_provider
from routeplex_gateway.providers.anthropic import AnthropicProvider
from tests.support import anthropic_sdk
from tests.support.cassettes import Exchange, load, replay

REQUEST_ID = "req_0190a1b2c3d4e5f60718293a4b5c6d7e"
MSG_ID = "msg_0190a1b2c3d4e5f60718293a4b5c6d7e"


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
    chunks: list[dict[str, Any]],
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
    final = anthropic_sdk.final_message(_encode(chunks, usage))
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
    """Anthropic's stream → canonical chunks (the Anthropic provider, over a socket) →
    Anthropic's stream again: what the SDK accumulates is what it accumulates from the
    recording — text, tool calls, stop reason, token counts — thinking blocks aside (the
    canonical shape carries none)."""
    exchange = load(cassette)[turn]
    original = anthropic_sdk.final_message(exchange.body)
    provider = AnthropicProvider()
    try:
        with replay([exchange]) as url:
            request = ChatRequest(
                body={"messages": [{"role": "user", "content": "hi"}]},
                stream=True,
                max_output_tokens=None,
            )
            upstream = await provider.stream(request, _deployment(url))
            chunks = [chunk.data async for chunk in upstream]
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


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _call(
    index: int, arguments: str, call_id: str | None = None, name: str = "f"
) -> dict[str, Any]:
    fragment: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if call_id is not None:
        fragment.update(id=call_id, type="function")
        fragment["function"]["name"] = name
    return _chunk({"tool_calls": [fragment]})


def test_event_sequence_text_then_tools() -> None:
    chunks = [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Checking"}),
        _chunk({"content": "."}),
        _call(0, "", "call_a", "lookup"),
        _call(0, '{"q":'),
        _call(0, '"x"}'),
        _call(1, '{"q":"y"}', "call_b", "lookup"),
        _chunk({}, "tool_calls"),
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


def test_text_after_a_tool_call_opens_a_new_block() -> None:
    chunks = [_call(0, "{}", "call_a"), _chunk({"content": "done"}), _chunk({}, "stop")]
    final = anthropic_sdk.final_message(_encode(chunks, Usage(1, 1)))
    assert [b.type for b in final.content] == ["tool_use", "text"]
    assert final.stop_reason == "end_turn"


def test_interleaved_call_fragments_reach_their_block() -> None:
    """No upstream interleaves calls, but if one did, each fragment still lands in its own
    block: the SDK's accumulator reads deltas by index."""
    stream = MessageStream()
    events = [
        stream.start("m", REQUEST_ID, None),
        stream.chunk(_call(0, '{"a":', "call_a")),
        stream.chunk(_call(1, '{"b":2}', "call_b")),
        stream.chunk(_call(0, "1}")),
        stream.end("tool_calls", Usage(1, 1)),
    ]
    final = anthropic_sdk.final_message(b"".join(events))
    assert [b.to_dict()["input"] for b in final.content] == [{"a": 1}, {"b": 2}]


def test_call_without_id_gets_one() -> None:
    chunk = _chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "{}"}}]})
    final = anthropic_sdk.final_message(_encode([chunk], Usage(1, 1), "tool_calls"))
    assert final.content[0].to_dict()["id"] == "toolu_0190a1b2c3d4e5f60718293a4b5c6d7e_0"


def test_refusal_and_content_filter_end_as_refusal() -> None:
    refused = [_chunk({"refusal": "I can't help with that."}), _chunk({}, "stop")]
    final = anthropic_sdk.final_message(_encode(refused, Usage(1, 1)))
    assert [b.to_dict() for b in final.content] == [
        {"type": "text", "text": "I can't help with that."}
    ]
    assert final.stop_reason == "refusal"
    filtered = [_chunk({"content": "Part"}), _chunk({}, "content_filter")]
    assert anthropic_sdk.final_message(_encode(filtered, Usage(1, 1))).stop_reason == "refusal"


@pytest.mark.parametrize(
    ("argument", "chunk_finish", "stop_reason"),
    [("length", None, "max_tokens"), (None, "length", "max_tokens"), (None, None, "end_turn")],
)
def test_stop_reason_from_end_or_the_last_chunk(
    argument: str | None, chunk_finish: str | None, stop_reason: str
) -> None:
    chunks = [_chunk({"content": "cut"}), _chunk({}, chunk_finish)]
    final = anthropic_sdk.final_message(_encode(chunks, Usage(1, 1), argument))
    assert final.stop_reason == stop_reason


def test_unknown_usage_keeps_the_estimate_and_says_zero_output() -> None:
    body = _encode([_chunk({"content": "x"})], Usage(), "stop", estimate=42)
    delta = dict(anthropic_sdk.events(body))["message_delta"]
    assert delta["usage"] == {"output_tokens": 0}
    final = anthropic_sdk.final_message(body)
    assert (final.usage.input_tokens, final.usage.output_tokens) == (42, 0)
    no_estimate = anthropic_sdk.final_message(_encode([], Usage(), "stop", estimate=None))
    assert (no_estimate.usage.input_tokens, no_estimate.content) == (0, [])


def test_thinking_tokens_are_reported_when_known() -> None:
    body = _encode([_chunk({"content": "x"})], Usage(5, 50, reasoning_tokens=40), "stop")
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
            stream.chunk(_chunk({"content": "Half an ans"})),
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
        stream.chunk(_chunk({"content": "more"}))


def test_chunks_outside_start_and_end_are_a_programming_error() -> None:
    stream = MessageStream()
    with pytest.raises(RuntimeError):
        stream.chunk(_chunk({"content": "x"}))
    with pytest.raises(RuntimeError):
        stream.end("stop", Usage())
    stream.start("m", REQUEST_ID, None)
    stream.end("stop", Usage())
    with pytest.raises(RuntimeError):
        stream.end("stop", Usage())


def test_chunks_without_content_make_no_events() -> None:
    stream = MessageStream()
    stream.start("m", REQUEST_ID, None)
    assert stream.chunk(_chunk({"role": "assistant", "content": "", "refusal": None})) == b""
    assert stream.chunk({"choices": []}) == b""
    assert stream.chunk({"choices": [{"index": 1, "delta": {"content": "other choice"}}]}) == b""
    assert stream.chunk(_call(0, "", "call_a")) != b""  # a call opens its block at once
