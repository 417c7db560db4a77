"""Every recorded Anthropic Messages exchange replayed through the Anthropic provider over a
real socket: text, thinking with its signature, tool calls, finish reason, usage (to the
token) and cost, as typed parts and stream deltas with Anthropic's own bytes beside them; and
the request translation checked against the request bodies that were actually sent, where an
OpenAI request can say the same thing."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from routeplex_gateway.canonical import (
    ChatRequest,
    ChatResponse,
    Chunk,
    Deployment,
    Finish,
    Text,
    TextDelta,
    Thinking,
    ThinkingDelta,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
    Usage,
)
from routeplex_gateway.errors import ErrorCode, GatewayError
from routeplex_gateway.metering.pricing import lookup_price
from routeplex_gateway.providers.anthropic import AnthropicProvider, AnthropicStream
from routeplex_gateway.providers.anthropic_translate import to_anthropic
from tests.support.cassettes import Exchange, Received, load, replay
from tests.support.chat import openai_request

MTOK = Decimal(10) ** 6


def _deployment(url: str = "http://unused", model: str = "claude-x") -> Deployment:
    return Deployment(
        provider="anthropic",
        kind="anthropic",
        base_url=url,
        api_key="sk-ant-test",
        upstream_model=model,
        max_output_tokens=8192,
    )


def _request(body: dict[str, Any], *, stream: bool = False) -> ChatRequest:
    return openai_request(body, stream=stream)


def _translated(body: dict[str, Any], deployment: Deployment, *, stream: bool) -> dict[str, Any]:
    return to_anthropic(openai_request(body), deployment, stream=stream).body


HELLO: dict[str, Any] = {"messages": [{"role": "user", "content": "hello"}]}


async def _complete(
    exchange: Exchange, body: dict[str, Any] | None = None, received: list[Received] | None = None
) -> ChatResponse:
    provider = AnthropicProvider()
    try:
        with replay([exchange], received) as url:
            response = await provider.complete(_request(body or HELLO), _deployment(url))
    finally:
        await provider.close()
    assert response.wire == "anthropic"
    assert response.native == json.loads(exchange.body)  # Anthropic's message, as received
    return response


async def _stream(
    exchange: Exchange, body: dict[str, Any] | None = None, received: list[Received] | None = None
) -> tuple[list[Chunk], Usage, str | None]:
    chunks, stream = await _stream_of(exchange, body, received)
    return chunks, stream.usage, stream.finish_reason


async def _stream_of(
    exchange: Exchange, body: dict[str, Any] | None = None, received: list[Received] | None = None
) -> tuple[list[Chunk], AnthropicStream]:
    provider = AnthropicProvider()
    try:
        with replay([exchange], received) as url:
            stream = await provider.stream(_request(body or HELLO, stream=True), _deployment(url))
            chunks = [chunk async for chunk in stream]
    finally:
        await provider.close()
    assert stream.wire == "anthropic"
    # Every event as it came, each on a chunk beside its typed deltas (the first chunk
    # carrying the events held before the first content).
    assert b"".join(c.native or b"" for c in chunks) == exchange.body
    assert all(c.native for c in chunks)
    finishes = [d for c in chunks for d in c.deltas if isinstance(d, Finish)]
    assert [f.reason for f in finishes] == [stream.finish_reason]
    return chunks, stream


def _text(chunks: list[Chunk]) -> str:
    return "".join(d.text for c in chunks for d in c.deltas if isinstance(d, TextDelta))


def _streamed_calls(chunks: list[Chunk]) -> dict[int, dict[str, str]]:
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in chunk.deltas:
            if isinstance(delta, ToolCallStart):
                calls[delta.index] = {"id": delta.id, "name": delta.name, "arguments": ""}
            elif isinstance(delta, ToolArgumentsDelta):
                calls[delta.index]["arguments"] += delta.fragment
    return calls


def _calls(response: ChatResponse) -> list[ToolCall]:
    return [p for p in response.parts if isinstance(p, ToolCall)]


def _price(model: str, usage: Usage) -> Decimal:
    price = lookup_price(model, "anthropic")
    assert price is not None
    return price.cost(usage)


# --- non-streamed ---------------------------------------------------------------------------


async def test_nonstream_basic_text_usage_cost_and_request() -> None:
    [exchange] = load("anthropic/messages_nonstream_basic.yaml")
    body = {
        "model": "claude-3-opus",
        "messages": [
            {"role": "system", "content": exchange.request["system"]},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        "max_tokens": 4096,
    }
    translated = _translated(body, _deployment(model="claude-3-opus-latest"), stream=False)
    assert translated == exchange.request
    received: list[Received] = []
    response = await _complete(exchange, body, received)
    assert received[0].path == "/v1/messages"
    assert received[0].headers["x-api-key"] == "sk-ant-test"
    assert received[0].headers["anthropic-version"] == "2023-06-01"
    assert response.parts == [Text("The capital of France is Paris.")]
    assert response.finish_reason == "stop" and response.stop_sequence is None
    assert response.model == "claude-3-opus-20240229"
    assert response.native is not None and response.id == response.native["id"]
    assert response.usage == Usage(
        input_tokens=20,
        output_tokens=10,
        cache_read_tokens=0,
        cache_write_tokens=0,
        reasoning_tokens=0,  # no thinking asked for, none in the answer
        cache_write_1h_tokens=0,
    )
    assert response.usage.openai()["prompt_tokens"] == 20
    cost = _price("claude-3-opus-20240229", response.usage)
    assert cost == (20 * Decimal(15) + 10 * Decimal(75)) / MTOK


async def test_nonstream_tool_use_and_tool_result_turn() -> None:
    call_turn, result_turn = load("anthropic/messages_nonstream_tool_use.yaml")
    recorded_tools = call_turn.request["tools"]
    tools = [
        {
            "type": "function",
            "function": {
                "name": t["name"],
                "description": t["description"],
                "parameters": t["input_schema"],
            },
        }
        for t in recorded_tools
    ]
    question = {"role": "user", "content": "What is the largest city in the user country?"}
    body: dict[str, Any] = {
        "messages": [question],
        "tools": tools,
        "tool_choice": "required",
        "max_tokens": 4096,
    }
    deployment = _deployment(model="claude-sonnet-4-5")
    assert _translated(body, deployment, stream=False) == call_turn.request

    response = await _complete(call_turn, body)
    assert response.finish_reason == "tool_calls"
    assert response.text() == ""
    [call] = response.parts  # the call alone: no text
    assert isinstance(call, ToolCall)
    assert call.id == "toolu_01X9wcHKKAZD9tBC711xipPa"
    assert call.name == "get_user_country"
    assert json.loads(call.arguments) == {}
    assert response.usage == Usage(445, 23, 0, 0, reasoning_tokens=0, cache_write_1h_tokens=0)

    follow_up = {
        **body,
        "messages": [
            question,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call.id, "content": "Mexico"},
        ],
    }
    sent = _translated(follow_up, deployment, stream=False)
    recorded = result_turn.request
    # Recorded by pydantic-ai, which also sends `is_error: false`; otherwise identical.
    recorded["messages"][2]["content"][0].pop("is_error")
    assert sent == recorded

    answer = await _complete(result_turn, follow_up)
    [final] = _calls(answer)
    assert final.name == "final_result"
    assert json.loads(final.arguments) == {
        "city": "Mexico City",
        "country": "Mexico",
    }
    assert answer.usage == Usage(497, 56, 0, 0, reasoning_tokens=0, cache_write_1h_tokens=0)
    cost = _price("claude-sonnet-4-5-20250929", answer.usage)
    assert cost == (497 * Decimal(3) + 56 * Decimal(15)) / MTOK


async def test_nonstream_prompt_cache_reads_and_writes_are_input() -> None:
    read_turn, write_turn = load("anthropic/messages_nonstream_prompt_cache_tokens.yaml")
    # The conversation of the second call, as an OpenAI request, translates to the same
    # system and messages (the recorded top-level `cache_control` has no OpenAI equivalent).
    recorded = write_turn.request
    messages: list[dict[str, Any]] = [{"role": "system", "content": recorded["system"]}]
    for message in recorded["messages"]:
        messages.append({"role": message["role"], "content": message["content"][0]["text"]})
    sent = _translated({"messages": messages}, _deployment(), stream=False)
    assert (sent["system"], sent["messages"]) == (recorded["system"], recorded["messages"])

    first = (await _complete(read_turn)).usage
    assert first == Usage(
        input_tokens=3 + 1111,
        output_tokens=406,
        cache_read_tokens=1111,
        cache_write_tokens=0,
        reasoning_tokens=0,  # no thinking asked for, none in the answer
        cache_write_1h_tokens=0,
    )
    second = await _complete(write_turn)
    usage = second.usage
    assert usage == Usage(
        input_tokens=3 + 418 + 1111,
        output_tokens=33,
        cache_read_tokens=1111,
        cache_write_tokens=418,
        reasoning_tokens=0,
        cache_write_1h_tokens=0,  # all 418 are 5-minute writes (`ephemeral_5m_input_tokens`)
    )
    assert second.usage.openai()["prompt_tokens"] == 1532
    assert second.usage.openai()["prompt_tokens_details"]["cached_tokens"] == 1111
    # Cache writes at their own (higher) rate, reads at theirs, the rest at the input rate.
    expected = (
        3 * Decimal(3) + 1111 * Decimal("0.3") + 418 * Decimal("3.75") + 33 * Decimal(15)
    ) / MTOK
    assert _price("claude-sonnet-4-5-20250929", usage) == expected


# --- streamed -------------------------------------------------------------------------------


async def test_stream_minimal_output_is_replaced_not_added() -> None:
    [exchange] = load("anthropic/messages_stream_text_minimal.yaml")
    chunks, stream = await _stream_of(exchange)
    usage, finish = stream.usage, stream.finish_reason
    assert _text(chunks) == "2"
    assert finish == "stop"
    assert [d for c in chunks for d in c.deltas if isinstance(d, Finish)] == [Finish("stop")]
    # Nothing before the first content: message_start, the block's start and the ping ride
    # with the first text delta.
    assert chunks[0].deltas == (TextDelta("2"),)
    assert chunks[0].native is not None and chunks[0].native.startswith(b"event: message_start")
    assert stream.model == "claude-sonnet-4-5-20250929"
    assert stream.id == "msg_018E1hg8GoVTGEKQY3ovMcSJ"
    # message_start says output 1, message_delta the final 5: 5, not 6.
    assert usage == Usage(20, 5, 0, 0, reasoning_tokens=0, cache_write_1h_tokens=0)


async def test_stream_raw_headers_and_request() -> None:
    [exchange] = load("anthropic/messages_stream_text_raw_headers_ratelimit.yaml")
    body = {
        "messages": [{"role": "user", "content": "Say just hello"}],
        "temperature": 1.0,
        "max_tokens": 8192,
    }
    translated = _translated(body, _deployment(model="claude-haiku-4-5-20251001"), stream=True)
    assert translated == exchange.request
    chunks, usage, finish = await _stream(exchange, body)
    assert (_text(chunks), finish) == ("Hello", "stop")
    assert usage == Usage(10, 4, 0, 0, reasoning_tokens=0, cache_write_1h_tokens=0)
    assert _price("claude-haiku-4-5-20251001", usage) == (10 * 1 + 4 * 5) / MTOK


async def test_stream_parallel_tool_use_then_text() -> None:
    call_turn, text_turn = load("anthropic/messages_stream_parallel_tool_use_then_text.yaml")
    tool = call_turn.request["tools"][0]
    tools = [
        {
            "type": "function",
            "function": {
                "name": tool["name"],
                "description": tool["description"],
                "parameters": tool["input_schema"],
            },
        }
    ]
    question = {"role": "user", "content": "Two names for a pet pelican"}
    body: dict[str, Any] = {
        "messages": [question],
        "tools": tools,
        "temperature": 1.0,
        "max_tokens": 8192,
    }
    deployment = _deployment(model="claude-haiku-4-5-20251001")
    assert _translated(body, deployment, stream=True) == call_turn.request

    chunks, usage, finish = await _stream(call_turn, body)
    assert finish == "tool_calls"
    calls = _streamed_calls(chunks)
    assert sorted(calls) == [0, 1]
    assert [c["id"] for c in calls.values()] == [
        "toolu_01LtHJmixrs9NcWQkK8hu8hj",
        "toolu_01N8a4jWyf116qKTMqKKmjyt",
    ]
    for call in calls.values():
        assert call["name"] == "pelican_name_generator"
        assert json.loads(call["arguments"]) == {}  # empty partial_json → "{}"
    # message_start already says 62 and message_delta repeats it: 62, not 124.
    assert usage == Usage(542, 62, 0, 0, reasoning_tokens=0, cache_write_1h_tokens=0)

    follow_up = {
        **body,
        "messages": [
            question,
            {
                "role": "assistant",
                "content": " ",
                "tool_calls": [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c["arguments"]},
                    }
                    for c in calls.values()
                ],
            },
            {"role": "tool", "tool_call_id": calls[0]["id"], "content": "Charles"},
            {"role": "tool", "tool_call_id": calls[1]["id"], "content": "Sammy"},
        ],
    }
    # Both results in one user turn, right after the assistant's tool_use blocks.
    assert _translated(follow_up, deployment, stream=True) == text_turn.request

    chunks, usage, finish = await _stream(text_turn, follow_up)
    assert finish == "stop"
    text = _text(chunks)
    assert text.startswith("Here are two great names for your pet pelican:")
    assert text.endswith("feathered friend! 🦅")
    assert usage == Usage(678, 82, 0, 0, reasoning_tokens=0, cache_write_1h_tokens=0)


async def test_stream_input_json_delta_fragments() -> None:
    [exchange] = load("anthropic/messages_stream_tool_use_input_json_delta.chunks.jsonl.txt")
    chunks, usage, finish = await _stream(exchange)
    assert finish == "tool_calls"
    [call] = _streamed_calls(chunks).values()
    assert call["name"] == "json" and call["id"] == "toolu_01KFbKqPYSuAKujiL6mTfzYA"
    assert json.loads(call["arguments"]) == {
        "elements": [{"location": "San Francisco", "temperature": 58, "condition": "sunny"}]
    }
    fragments = [d.fragment for c in chunks for d in c.deltas if isinstance(d, ToolArgumentsDelta)]
    assert len(fragments) == 2  # relayed as they came, the empty one skipped
    assert usage == Usage(849, 47, 0, 0, reasoning_tokens=0, cache_write_1h_tokens=0)


async def test_stream_extended_thinking_is_not_answer_text() -> None:
    [exchange] = load("anthropic/messages_stream_extended_thinking.yaml")
    body = {
        "messages": [{"role": "user", "content": "Two names for a pet pelican, be brief"}],
        "max_tokens": 8192,
        "reasoning_effort": "low",
    }
    translated = _translated(body, _deployment(model="claude-haiku-4-5-20251001"), stream=True)
    assert translated["thinking"] == exchange.request["thinking"]
    chunks, usage, finish = await _stream(exchange, body)
    text = _text(chunks)
    assert text == (
        '1. **Pouch** - references their iconic bill pouch\n2. **Pelé** - playful take on "pelican"'
    )
    # The thinking is its own deltas, never answer text: its text, then its signature.
    thinking = [d for c in chunks for d in c.deltas if isinstance(d, ThinkingDelta)]
    assert "The user wants" not in text and "EuYDCmMIDBgCKkC05Zda4P" not in text
    assert "".join(d.text for d in thinking).startswith("The user wants two names")
    signatures = [d.signature for d in thinking if d.signature is not None]
    assert len(signatures) == 1 and signatures[0].startswith("EuYDCmMIDBgCKkC05Zda4P")
    assert thinking[-1].signature == signatures[0] and not thinking[-1].text
    assert not any(d.redacted for d in thinking)
    assert finish == "stop"
    # Thinking tokens are inside output_tokens; Anthropic does not report them apart, so the
    # count is unknown — not 0.
    assert usage == Usage(46, 133, 0, 0, reasoning_tokens=None, cache_write_1h_tokens=0)


async def test_the_stop_sequence_that_ended_it_is_said() -> None:
    [minimal] = load("anthropic/messages_stream_text_minimal.yaml")
    ended = b'"stop_reason":"stop_sequence","stop_sequence":"END"'
    raw = minimal.body.replace(b'"stop_reason":"end_turn","stop_sequence":null', ended)
    assert raw != minimal.body
    chunks, _, finish = await _stream(Exchange({}, 200, "text/event-stream", raw))
    assert finish == "stop"
    assert [d for c in chunks for d in c.deltas if isinstance(d, Finish)] == [Finish("stop", "END")]
    [basic] = load("anthropic/messages_nonstream_basic.yaml")
    body = json.loads(basic.body) | {"stop_reason": "stop_sequence", "stop_sequence": "END"}
    answer = await _complete(Exchange({}, 200, "application/json", json.dumps(body).encode()))
    assert (answer.finish_reason, answer.stop_sequence) == ("stop", "END")


async def test_a_redacted_thinking_block_is_a_redacted_thinking_part() -> None:
    """No recording has one: the minimal recording with a redacted block before its text."""
    [minimal] = load("anthropic/messages_stream_text_minimal.yaml")
    redacted = (
        b"event: content_block_start\n"
        b'data: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"redacted_thinking","data":"EmwKAhgBEgy3"}}\n\n'
        b"event: content_block_stop\n"
        b'data: {"type":"content_block_stop","index":0}\n\n'
    )
    head, sep, tail = minimal.body.partition(b"event: content_block_start")
    raw = head + redacted + sep + tail.replace(b'"index":0', b'"index":1')
    chunks, usage, finish = await _stream(Exchange({}, 200, "text/event-stream", raw))
    deltas = [d for c in chunks for d in c.deltas]
    assert deltas[:2] == [ThinkingDelta(signature="EmwKAhgBEgy3", redacted=True), TextDelta("2")]
    assert finish == "stop" and usage.reasoning_tokens is None  # thinking happened: unknown
    [basic] = load("anthropic/messages_nonstream_basic.yaml")
    body = json.loads(basic.body)
    body["content"].insert(0, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3"})
    answer = await _complete(Exchange({}, 200, "application/json", json.dumps(body).encode()))
    assert answer.parts == [
        Thinking(text="", signature="EmwKAhgBEgy3", redacted=True),
        Text("The capital of France is Paris."),
    ]
    assert answer.usage.reasoning_tokens is None


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cassette", "status"),
    [
        ("anthropic/messages_error_400_invalid_request.yaml", 400),
        ("anthropic/count_tokens_error_404_not_found.yaml", 404),
    ],
)
async def test_recorded_client_errors_are_the_callers_400(cassette: str, status: int) -> None:
    [exchange] = load(cassette)
    with pytest.raises(GatewayError) as raised:
        await _complete(exchange)
    error = raised.value
    # The request itself is at fault: a 400 the SDKs do not retry, not a 502 they would.
    assert error.code is ErrorCode.BAD_REQUEST and error.status == 400
    assert not error.retryable
    assert error.details["upstream_status"] == status
    recorded = json.loads(exchange.body)["error"]["message"]
    assert error.provider_message == recorded  # relayed to the caller...
    assert recorded not in str(error)  # ...but never part of what may be logged


@pytest.mark.parametrize(
    ("status", "kind", "code", "retryable"),
    [
        (401, "authentication_error", ErrorCode.PROVIDER_ERROR, False),
        (429, "rate_limit_error", ErrorCode.PROVIDER_UNAVAILABLE, True),
        (529, "overloaded_error", ErrorCode.PROVIDER_UNAVAILABLE, True),
        (500, "api_error", ErrorCode.PROVIDER_ERROR, True),
    ],
)
async def test_documented_error_shapes(
    status: int, kind: str, code: ErrorCode, retryable: bool
) -> None:
    # Not recordings (none exists under a permissive licence): the documented envelope.
    body = {"type": "error", "error": {"type": kind, "message": "m"}, "request_id": "req_1"}
    exchange = Exchange({}, status, "application/json", json.dumps(body).encode())
    with pytest.raises(GatewayError) as raised:
        await _complete(exchange)
    assert raised.value.code is code and raised.value.retryable is retryable
    if status == 401:
        assert "gateway's credentials" in raised.value.message


async def test_mid_stream_overloaded_event_is_provider_unavailable() -> None:
    [exchange] = load("anthropic/messages_stream_text_minimal.yaml")
    good, _, _ = exchange.body.partition(b"event: content_block_stop")
    error = (
        b"event: error\n"
        b'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
        b"   \n\n"
    )
    broken = Exchange({}, 200, "text/event-stream", good + error)
    with pytest.raises(GatewayError) as raised:
        await _stream(broken)
    # What a 529 before the stream would have said: overloaded, worth trying elsewhere.
    assert raised.value.code is ErrorCode.PROVIDER_UNAVAILABLE and raised.value.retryable
    assert raised.value.provider_message == "Overloaded"
    other = broken.body.replace(b"overloaded_error", b"api_error")
    with pytest.raises(GatewayError) as raised:
        await _stream(Exchange({}, 200, "text/event-stream", other))
    assert raised.value.code is ErrorCode.PROVIDER_ERROR
    assert "broke off" in raised.value.message
