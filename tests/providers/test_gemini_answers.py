"""Gemini answers as the typed canonical shape, over real sockets: parts in the order
produced (thought summaries with their signatures, text, calls with their ids) and stream
deltas (the signature where the thinking ends, calls numbered as they start, one finish),
from crafted answers and from the recorded ones."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson

from routeplex_gateway.canonical import (
    ChatRequest,
    ChatResponse,
    Chunk,
    Deployment,
    Finish,
    Message,
    Text,
    TextDelta,
    Thinking,
    ThinkingDelta,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
)
from routeplex_gateway.providers import gemini_answer as gemini
from routeplex_gateway.providers.gemini import GeminiProvider
from routeplex_gateway.providers.gemini_calls import call_id
from tests.support.cassettes import Exchange, json_array_as_sse, load, replay

SIGNATURE = base64.b64encode(b"gemini's own signature bytes").decode()


def _user(*parts: Any) -> Message:
    return Message("user", tuple(parts))


def _deployment(url: str, model: str = "gemini-2.5-flash") -> Deployment:
    return Deployment(
        provider="gemini", kind="gemini", base_url=url, api_key="AIza-test", upstream_model=model
    )


async def _complete(
    url: str, request: ChatRequest, model: str = "gemini-2.5-flash"
) -> ChatResponse:
    provider = GeminiProvider()
    try:
        return await provider.complete(request, _deployment(url, model))
    finally:
        await provider.close()


async def _stream(url: str, request: ChatRequest, model: str = "gemini-2.5-flash") -> list[Chunk]:
    provider = GeminiProvider()
    try:
        stream = await provider.stream(request, _deployment(url, model))
        return [chunk async for chunk in stream]
    finally:
        await provider.close()


# --- Gemini answers → typed parts and deltas --------------------------------------------------


def _candidate(parts: list[dict[str, Any]], finish: str | None = "STOP") -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
    if finish is not None:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 6},
        "modelVersion": "gemini-3-flash",
        "responseId": "resp-1",
    }


THOUGHTFUL: list[dict[str, Any]] = [
    {"text": "**Planning**\n", "thought": True},
    {"text": "I will answer.", "thought": True, "thoughtSignature": SIGNATURE},
    {"text": "Hello"},
    {"text": " there."},
    {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
]


def test_answer_parts_in_order_with_the_thought_signature() -> None:
    response = gemini.completion(_candidate(THOUGHTFUL))
    assert response.parts == [
        Thinking(text="**Planning**\nI will answer.", signature=SIGNATURE),
        Text("Hello there."),
        ToolCall(id=call_id("resp-1", 0), name="get_weather", arguments='{"city":"Oslo"}'),
    ]
    assert response.finish_reason == "tool_calls"
    assert (response.id, response.model, response.wire) == ("resp-1", "gemini-3-flash", "gemini")
    assert response.native == _candidate(THOUGHTFUL) and response.created > 0
    assert response.stop_sequence is None and response.logprobs is None
    unsigned = gemini.completion(_candidate([{"text": "hmm", "thought": True}]))
    assert unsigned.parts == [Thinking(text="hmm", signature=None)]


def _sse(*chunks: dict[str, Any]) -> Exchange:
    body = b"".join(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks)
    return Exchange({}, 200, "text/event-stream", body)


async def _replayed(exchange: Exchange) -> list[Chunk]:
    with replay([exchange]) as url:
        return await _stream(url, ChatRequest(messages=[_user(Text("x"))], stream=True))


async def test_stream_deltas_with_the_signature_where_the_thinking_ends() -> None:
    first, second = THOUGHTFUL[:2], THOUGHTFUL[2:]
    chunks = await _replayed(_sse(_candidate(first, None), _candidate(second)))
    assert [c.deltas for c in chunks] == [
        (ThinkingDelta("**Planning**\n"), ThinkingDelta("I will answer.")),
        (
            ThinkingDelta(signature=SIGNATURE),
            TextDelta("Hello"),
            TextDelta(" there."),
            ToolCallStart(0, call_id("resp-1", 0), "get_weather"),
            ToolArgumentsDelta(0, '{"city":"Oslo"}'),
            Finish("tool_calls"),
        ),
    ]
    assert all(c.native is None for c in chunks)
    # A stream that ends while still thinking gives the signature before its finish.
    chunks = await _replayed(_sse(_candidate(first)))
    assert chunks[-1].deltas[-2:] == (ThinkingDelta(signature=SIGNATURE), Finish("stop"))


async def test_recorded_streams_as_typed_deltas() -> None:
    # Gemini 3: a thought summary, then a call carrying the turn's signature (in its id).
    [turn, *_] = load("google/stream_generate_content_json_array_function_call.yaml")
    chunks = await _replayed(json_array_as_sse(turn))
    [[thought], [start, arguments, finish]] = [c.deltas for c in chunks]
    assert isinstance(thought, ThinkingDelta) and thought.signature is None
    assert thought.text.startswith("**Generating Pelican Names**")
    recorded = json.loads(turn.body)
    call_part = recorded[1]["candidates"][0]["content"]["parts"][0]
    basis = recorded[0]["responseId"]
    signed = call_id(basis, 0, call_part["thoughtSignature"])
    assert start == ToolCallStart(0, signed, "pelican_name_generator")
    assert (arguments, finish) == (ToolArgumentsDelta(0, "{}"), Finish("tool_calls"))
    # Vertex: arguments streamed as partialArgs come out whole, one fragment per call.
    [vertex] = load("google/vertex_stream_function_call_partial_args.chunks.jsonl.txt")
    deltas = [d for c in await _replayed(vertex) for d in c.deltas]
    assert [d for d in deltas if not isinstance(d, ToolCallStart)] == [
        ToolArgumentsDelta(0, '{"location":"Boston"}'),
        ToolArgumentsDelta(1, '{"location":"San Francisco"}'),
        Finish("tool_calls"),
    ]
    assert [(d.index, d.name) for d in deltas if isinstance(d, ToolCallStart)] == [
        (0, "getWeather"),
        (1, "getWeather"),
    ]


async def test_recorded_answers_as_typed_parts() -> None:
    call_turn, result_turn = load("google/generate_content_function_call.yaml")
    for exchange, name in ((call_turn, "get_user_country"), (result_turn, "final_result")):
        with replay([exchange]) as url:
            response = await _complete(url, ChatRequest(messages=[_user(Text("x"))]))
        recorded = json.loads(exchange.body)
        [call] = response.parts
        assert call == ToolCall(
            id=call_id(recorded["responseId"], 0),
            name=name,
            arguments=orjson.dumps(
                recorded["candidates"][0]["content"]["parts"][0]["functionCall"]["args"]
            ).decode(),
        )
        assert response.native == recorded and response.wire == "gemini"
