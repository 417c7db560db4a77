"""Every recorded OpenAI Chat Completions exchange replayed through the OpenAI provider:
text, tool calls, finish reason, usage and cost as the provider reported them."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson
import pytest

from routeplex_gateway.canonical import (
    ChatRequest,
    Chunk,
    Deployment,
    Text,
    TextDelta,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
    Usage,
)
from routeplex_gateway.errors import ErrorCode, GatewayError
from routeplex_gateway.metering.pricing import lookup_price
from routeplex_gateway.providers.openai import OpenAIProvider
from tests.support.cassettes import Exchange, load, replay
from tests.support.chat import openai_request


def _deployment(url: str, model: str) -> Deployment:
    return Deployment(
        provider="openai",
        kind="openai",
        base_url=f"{url}/v1",
        api_key="sk-test",
        upstream_model=model,
    )


def _request(exchange: Exchange) -> ChatRequest:
    return openai_request(dict(exchange.request), native=True)


async def _complete(exchange: Exchange) -> Any:
    provider = OpenAIProvider()
    try:
        with replay([exchange]) as url:
            return await provider.complete(_request(exchange), _deployment(url, "m"))
    finally:
        await provider.close()


async def _stream(exchange: Exchange) -> tuple[list[dict[str, Any]], Usage, str | None]:
    provider = OpenAIProvider()
    try:
        with replay([exchange]) as url:
            stream = await provider.stream(_request(exchange), _deployment(url, "m"))
            typed = [chunk async for chunk in stream]
            chunks = [orjson.loads(chunk.native or b"{}") for chunk in typed]
            assert stream.wire == "openai"
            assert (stream.id, stream.model) == (chunks[0]["id"], chunks[0]["model"])
            _deltas_agree(typed, chunks)
            return chunks, stream.usage, stream.finish_reason
    finally:
        await provider.close()


def _deltas_agree(typed: list[Chunk], chunks: list[dict[str, Any]]) -> None:
    """Each chunk's typed deltas say what its own JSON says (text, and calls by index)."""
    for chunk, data in zip(typed, chunks, strict=True):
        delta = data["choices"][0]["delta"] if data["choices"] else {}
        texts = [d.text for d in chunk.deltas if isinstance(d, TextDelta)]
        assert texts == ([delta["content"]] if delta.get("content") else [])
        for call in delta.get("tool_calls") or ():
            if call.get("id"):
                assert ToolCallStart(call["index"], call["id"], call["function"]["name"]) in (
                    chunk.deltas
                )
            if call["function"].get("arguments"):
                fragment = ToolArgumentsDelta(call["index"], call["function"]["arguments"])
                assert fragment in chunk.deltas


async def test_nonstream_basic() -> None:
    [exchange] = load("openai/chat_completions_nonstream_basic.yaml")
    response = await _complete(exchange)
    expected = json.loads(exchange.body)
    assert response.native is not None
    assert (
        response.native["choices"][0]["message"]["content"]
        == (expected["choices"][0]["message"]["content"])
    )
    assert response.native["choices"][0]["finish_reason"] == "stop"
    # The same answer in typed parts: the body is relayed, the parts read by other surfaces.
    assert response.wire == "openai"
    assert response.parts == [Text(expected["choices"][0]["message"]["content"])]
    assert response.finish_reason == "stop"
    assert (response.id, response.model, response.created) == (
        expected["id"],
        expected["model"],
        expected["created"],
    )
    u = expected["usage"]
    assert response.usage == Usage(
        input_tokens=u["prompt_tokens"],
        output_tokens=u["completion_tokens"],
        cache_read_tokens=0,
        cache_write_tokens=None,
        reasoning_tokens=0,
    )


async def test_nonstream_reasoning_tokens() -> None:
    [exchange] = load("openai/chat_completions_nonstream_reasoning_tokens_o3mini.yaml")
    response = await _complete(exchange)
    usage = response.usage
    assert usage.reasoning_tokens == 64
    price = lookup_price("o3-mini", "openai")
    assert price is not None
    # Reasoning tokens are inside completion_tokens: billed once, at the output rate.
    assert (
        price.cost(usage)
        == (usage.input_tokens * Decimal("1.1") + usage.output_tokens * Decimal("4.4")) / 10**6
    )


async def test_nonstream_prompt_cache() -> None:
    first, second = load("openai/chat_completions_nonstream_prompt_cache_cached_tokens.yaml")
    write = (await _complete(first)).usage
    read = (await _complete(second)).usage
    assert (write.input_tokens, write.cache_write_tokens, write.cache_read_tokens) == (
        4020,
        4012,
        0,
    )
    assert (read.input_tokens, read.cache_read_tokens) == (4020, 4012)
    price = lookup_price("gpt-4o-mini", "openai")
    assert price is not None
    cached_cost = price.cost(read)
    assert (
        cached_cost
        == (8 * Decimal("0.15") + 4012 * Decimal("0.075") + read.output_tokens * Decimal("0.6"))
        / 10**6
    )


async def test_nonstream_tool_calls() -> None:
    call_turn, result_turn = load("openai/chat_completions_nonstream_tool_calls.yaml")
    response = await _complete(call_turn)
    choice = response.native["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["type"] == "function"
    calls = [part for part in response.parts if isinstance(part, ToolCall)]
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        (t["id"], t["function"]["name"], t["function"]["arguments"])
        for t in choice["message"]["tool_calls"]
    ]
    assert response.finish_reason == "tool_calls"
    answer = await _complete(result_turn)
    assert answer.usage.known


@pytest.mark.parametrize(
    "cassette",
    [
        "openai/chat_completions_stream_tool_call_then_text_include_usage.yaml",
        "openai/chat_completions_stream_tool_call_raw_headers_ratelimit.yaml",
    ],
)
async def test_stream_tool_call_then_text(cassette: str) -> None:
    call_turn, text_turn = load(cassette)
    chunks, usage, finish = await _stream(call_turn)
    assert finish == "tool_calls"
    arguments = "".join(
        tc["function"].get("arguments", "")
        for c in chunks
        for ch in c["choices"]
        for tc in ch["delta"].get("tool_calls") or ()
    )
    assert isinstance(json.loads(arguments), dict)
    # The provider's usage-only chunk is consumed: the gateway writes its own final chunk.
    assert all(c["choices"] for c in chunks)
    final_usage = [
        json.loads(line[6:])
        for line in call_turn.body.decode().split("\n")
        if line.startswith("data: {") and '"usage":{' in line
    ][-1]["usage"]
    assert (usage.input_tokens, usage.output_tokens) == (
        final_usage["prompt_tokens"],
        final_usage["completion_tokens"],
    )

    chunks, usage, finish = await _stream(text_turn)
    assert finish == "stop"
    text = "".join(ch["delta"].get("content") or "" for c in chunks for ch in c["choices"])
    assert text.strip()
    assert usage.known


@pytest.mark.parametrize(
    ("cassette", "param"),
    [
        ("openai/chat_completions_error_400_unsupported_value.yaml", "messages[0].role"),
        ("openai/chat_completions_error_400_invalid_request_param.yaml", "web_search_options"),
    ],
)
async def test_recorded_400s_are_the_callers_400(cassette: str, param: str) -> None:
    [exchange] = load(cassette)
    with pytest.raises(GatewayError) as raised:
        await _complete(exchange)
    error = raised.value
    assert error.code is ErrorCode.BAD_REQUEST and error.status == 400
    assert not error.retryable
    recorded = json.loads(exchange.body)["error"]["message"]
    assert error.provider_message == recorded  # relayed to the caller...
    assert recorded not in str(error)  # ...but never part of what may be logged


async def test_recorded_429_insufficient_quota_is_retryable() -> None:
    from tests.support.cassettes import PROVIDERS

    body = (PROVIDERS / "openai" / "error_429_insufficient_quota_body.json").read_bytes()
    exchange = Exchange(
        request={"model": "m", "messages": []},
        status=429,
        content_type="application/json",
        body=body,
    )
    with pytest.raises(GatewayError) as raised:
        await _complete(exchange)
    assert raised.value.code is ErrorCode.PROVIDER_UNAVAILABLE and raised.value.retryable
