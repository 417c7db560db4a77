"""Every recorded Anthropic Messages exchange replayed through the Anthropic provider over a
real socket: text, tool calls, finish reason, usage (to the token) and cost, every body and
chunk checked against OpenAI's schema; and the request translation checked against the
request bodies that were actually sent, where an OpenAI request can say the same thing."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from routeplex_gateway.canonical import ChatRequest, ChatResponse, Deployment, Usage
from routeplex_gateway.errors import ErrorCode, GatewayError
from routeplex_gateway.metering.pricing import lookup_price
from routeplex_gateway.providers.anthropic import AnthropicProvider
from routeplex_gateway.providers.anthropic_translate import to_anthropic
from tests.support.cassettes import Exchange, Received, load, replay
from tests.support.openai_schema import assert_valid

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
    return ChatRequest(body=body, stream=stream, max_output_tokens=body.get("max_tokens"))


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
    assert_valid(response.body, "CreateChatCompletionResponse")
    return response


async def _stream(
    exchange: Exchange, body: dict[str, Any] | None = None, received: list[Received] | None = None
) -> tuple[list[dict[str, Any]], Usage, str | None]:
    provider = AnthropicProvider()
    try:
        with replay([exchange], received) as url:
            stream = await provider.stream(_request(body or HELLO, stream=True), _deployment(url))
            chunks = [chunk.data async for chunk in stream]
    finally:
        await provider.close()
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
        assert "usage" not in chunk  # the gateway writes the final usage chunk itself
    return chunks, stream.usage, stream.finish_reason


def _text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)


def _streamed_calls(chunks: list[dict[str, Any]]) -> dict[int, dict[str, str]]:
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for fragment in chunk["choices"][0]["delta"].get("tool_calls") or ():
            call = calls.setdefault(fragment["index"], {"arguments": ""})
            if "id" in fragment:
                call.update(id=fragment["id"], name=fragment["function"]["name"])
            call["arguments"] += fragment["function"]["arguments"]
    return calls


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
    translated = to_anthropic(body, _deployment(model="claude-3-opus-latest"), stream=False)
    assert translated.body == exchange.request
    received: list[Received] = []
    response = await _complete(exchange, body, received)
    assert received[0].path == "/v1/messages"
    assert received[0].headers["x-api-key"] == "sk-ant-test"
    assert received[0].headers["anthropic-version"] == "2023-06-01"
    choice = response.body["choices"][0]
    assert choice["message"]["content"] == "The capital of France is Paris."
    assert choice["finish_reason"] == "stop"
    assert response.body["model"] == "claude-3-opus-20240229"
    assert response.usage == Usage(
        input_tokens=20,
        output_tokens=10,
        cache_read_tokens=0,
        cache_write_tokens=0,
        reasoning_tokens=0,  # no thinking asked for, none in the answer
        cache_write_1h_tokens=0,
    )
    assert response.body["usage"]["prompt_tokens"] == 20
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
    assert to_anthropic(body, deployment, stream=False).body == call_turn.request

    response = await _complete(call_turn, body)
    choice = response.body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["id"] == "toolu_01X9wcHKKAZD9tBC711xipPa"
    assert call["function"]["name"] == "get_user_country"
    assert json.loads(call["function"]["arguments"]) == {}
    assert response.usage == Usage(445, 23, 0, 0, reasoning_tokens=0, cache_write_1h_tokens=0)

    follow_up = {
        **body,
        "messages": [
            question,
            choice["message"],
            {"role": "tool", "tool_call_id": call["id"], "content": "Mexico"},
        ],
    }
    sent = to_anthropic(follow_up, deployment, stream=False).body
    recorded = result_turn.request
    # Recorded by pydantic-ai, which also sends `is_error: false`; otherwise identical.
    recorded["messages"][2]["content"][0].pop("is_error")
    assert sent == recorded

    answer = await _complete(result_turn, follow_up)
    [final] = answer.body["choices"][0]["message"]["tool_calls"]
    assert final["function"]["name"] == "final_result"
    assert json.loads(final["function"]["arguments"]) == {
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
    sent = to_anthropic({"messages": messages}, _deployment(), stream=False).body
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
    assert second.body["usage"]["prompt_tokens"] == 1532
    assert second.body["usage"]["prompt_tokens_details"]["cached_tokens"] == 1111
    # Cache writes at their own (higher) rate, reads at theirs, the rest at the input rate.
    expected = (
        3 * Decimal(3) + 1111 * Decimal("0.3") + 418 * Decimal("3.75") + 33 * Decimal(15)
    ) / MTOK
    assert _price("claude-sonnet-4-5-20250929", usage) == expected


# --- streamed -------------------------------------------------------------------------------


async def test_stream_minimal_output_is_replaced_not_added() -> None:
    [exchange] = load("anthropic/messages_stream_text_minimal.yaml")
    chunks, usage, finish = await _stream(exchange)
    assert _text(chunks) == "2"
    assert finish == "stop"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert {c["model"] for c in chunks} == {"claude-sonnet-4-5-20250929"}
    assert {c["id"] for c in chunks} == {"msg_018E1hg8GoVTGEKQY3ovMcSJ"}
    # message_start says output 1, message_delta the final 5: 5, not 6.
    assert usage == Usage(20, 5, 0, 0, reasoning_tokens=0, cache_write_1h_tokens=0)


async def test_stream_raw_headers_and_request() -> None:
    [exchange] = load("anthropic/messages_stream_text_raw_headers_ratelimit.yaml")
    body = {
        "messages": [{"role": "user", "content": "Say just hello"}],
        "temperature": 1.0,
        "max_tokens": 8192,
    }
    translated = to_anthropic(body, _deployment(model="claude-haiku-4-5-20251001"), stream=True)
    assert translated.body == exchange.request
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
    assert to_anthropic(body, deployment, stream=True).body == call_turn.request

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
    assert to_anthropic(follow_up, deployment, stream=True).body == text_turn.request

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
    fragments = [
        tc["function"]["arguments"]
        for c in chunks
        for tc in c["choices"][0]["delta"].get("tool_calls") or ()
        if "id" not in tc
    ]
    assert len(fragments) == 2  # relayed as they came, the empty one skipped
    assert usage == Usage(849, 47, 0, 0, reasoning_tokens=0, cache_write_1h_tokens=0)


async def test_stream_extended_thinking_is_not_answer_text() -> None:
    [exchange] = load("anthropic/messages_stream_extended_thinking.yaml")
    body = {
        "messages": [{"role": "user", "content": "Two names for a pet pelican, be brief"}],
        "max_tokens": 8192,
        "reasoning_effort": "low",
    }
    translated = to_anthropic(body, _deployment(model="claude-haiku-4-5-20251001"), stream=True)
    assert translated.body["thinking"] == exchange.request["thinking"]
    chunks, usage, finish = await _stream(exchange, body)
    text = _text(chunks)
    assert text == (
        '1. **Pouch** - references their iconic bill pouch\n2. **Pelé** - playful take on "pelican"'
    )
    assert "The user wants" not in json.dumps(chunks)
    assert "EuYDCmMIDBgCKkC05Zda4P" not in json.dumps(chunks)  # nor the signature
    assert finish == "stop"
    # Thinking tokens are inside output_tokens; Anthropic does not report them apart, so the
    # count is unknown — not 0.
    assert usage == Usage(46, 133, 0, 0, reasoning_tokens=None, cache_write_1h_tokens=0)


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
