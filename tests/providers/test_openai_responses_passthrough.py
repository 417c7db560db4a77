"""OpenAI Responses passthrough over real sockets: a body the caller sent in the Responses
format, served by OpenAI, goes to `{base}/responses` untouched but for the model, `stream`,
`store` and a lowered cap; the answer comes back as received — the stream event for event,
byte for byte — beside its typed parts and deltas. OpenAI-compatible servers keep the Chat
Completions translation. The upstream is the simulator, or recorded real traffic replayed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest

from routeplex_gateway.canonical import (
    ChatRequest,
    Chunk,
    Deployment,
    Finish,
    Message,
    NativeRequest,
    Text,
    TextDelta,
    Thinking,
    ThinkingDelta,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
)
from routeplex_gateway.errors import ErrorCode, GatewayError
from routeplex_gateway.providers.openai import OpenAIProvider
from routeplex_gateway.providers.openai_responses_answer import ResponsesStream, completion
from tests.support.cassettes import Exchange, Received, load, replay
from tests.support.openai_schema import assert_event_valid, assert_responses_valid

WIRE = "openai-responses"
MODEL = "gpt-4o"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
# What a translation through Chat Completions would lose or refuse: reasoning items with
# their encrypted content, built-in tools, `include`, `text.verbosity`, unknown fields.
RICH: dict[str, Any] = {
    "model": "gpt-5-caller-name",  # the caller's name: the deployment's replaces it
    "instructions": "Be brief.",
    "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAAAopaque"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Hello!"}]},
        {"role": "user", "content": "the weather in Paris?"},
    ],
    "tools": [WEATHER, {"type": "web_search"}],
    "include": ["reasoning.encrypted_content"],
    "reasoning": {"effort": "low", "summary": "auto"},
    "text": {"verbosity": "low"},
    "metadata": {"ticket": "7"},
    "store": True,
    "max_output_tokens": 2000,
    "prompt_cache_key": "caller-7",
}


def _deployment(url: str, *, provider: str = "openai", model: str = "gpt-5") -> Deployment:
    return Deployment(
        provider=provider, kind="openai", base_url=url, api_key="sk-gw", upstream_model=model
    )


def _request(
    body: dict[str, Any], *, stream: bool, cap: int | None = None, added: bool = False
) -> ChatRequest:
    # The typed messages are the codec's decoding; passthrough never reads them.
    return ChatRequest(
        messages=[Message("user", (Text("the weather in Paris?"),))],
        stream=stream,
        max_output_tokens=cap,
        output_cap_added=added,
        native=NativeRequest(wire=WIRE, body=body),
    )


@asynccontextmanager
async def provider() -> AsyncIterator[OpenAIProvider]:
    made = OpenAIProvider()
    try:
        yield made
    finally:
        await made.close()


async def _drain(stream: Any) -> list[Chunk]:
    return [chunk async for chunk in stream]


def _events(raw: bytes) -> list[bytes]:
    return [block + b"\n\n" for block in raw.split(b"\n\n") if block.strip()]


def _data(event: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(event.split(b"data: ", 1)[1])
    return parsed


async def _sent(simulator_url: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        seen = (await client.get(f"{simulator_url}/_simulator/requests")).json()["requests"]
        await client.delete(f"{simulator_url}/_simulator/requests")
    found: list[dict[str, Any]] = seen
    return found


async def _fault(simulator_url: str, **fault: Any) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{simulator_url}/_simulator/faults", json=fault)
    assert response.status_code == 201, response.text


# --- the request: untouched but for the model, stream, store and a lowered cap ---------------


async def test_the_callers_body_reaches_openais_responses_api_untouched(
    simulator_url: str,
) -> None:
    await _sent(simulator_url)
    async with provider() as openai:
        answer = await openai.complete(
            _request(RICH, stream=False), _deployment(f"{simulator_url}/v1")
        )
    [sent] = await _sent(simulator_url)
    assert sent["path"] == "/v1/responses" and sent["auth_header"] == "authorization"
    # Nothing else changed: the stateless gateway never lets OpenAI store it.
    assert sent["body"] == {**RICH, "model": "gpt-5", "stream": False, "store": False}
    assert RICH["store"] is True and RICH["model"] == "gpt-5-caller-name"  # the caller's kept

    assert answer.wire == WIRE and answer.native is not None
    assert answer.native_for(WIRE) is answer.native and answer.native_for("openai") is None
    assert_responses_valid(answer.native, "Response")
    reasoning, call = answer.native["output"]
    # The typed parts beside it: the reasoning with its encrypted content, then the call.
    assert answer.parts == [
        Thinking(text="", signature=reasoning["encrypted_content"]),
        ToolCall(id=call["call_id"], name="get_weather", arguments=call["arguments"]),
    ]
    usage = answer.native["usage"]
    assert answer.usage.input_tokens == usage["input_tokens"]
    assert answer.usage.output_tokens == usage["output_tokens"]
    assert answer.usage.cache_read_tokens == 0 and answer.usage.cache_write_tokens == 0
    assert answer.usage.reasoning_tokens == usage["output_tokens_details"]["reasoning_tokens"] > 0
    assert answer.finish_reason == "tool_calls" and answer.id == answer.native["id"]
    assert answer.model == "gpt-5" and answer.created == answer.native["created_at"]


async def test_max_output_tokens_is_lowered_only_to_the_gateways_cap() -> None:
    [recorded] = load("openai/responses_nonstream_basic.yaml")
    received: list[Received] = []
    body = {"model": "m", "input": "hi", "max_output_tokens": 500, "stream_options": {}}
    async with provider() as openai:
        with replay([recorded] * 4, received) as url:
            for cap in (100, 1000, None):
                await openai.complete(_request(body, stream=False, cap=cap), _deployment(url))
            # No cap from the caller: the gateway's own, when it set one.
            plain = {"model": "m", "input": "hi"}
            await openai.complete(
                _request(plain, stream=False, cap=64, added=True), _deployment(url)
            )
    assert [r.body.get("max_output_tokens") for r in received] == [100, 500, 500, 64]
    assert all("stream_options" not in r.body for r in received)  # refused without `stream`
    assert body["max_output_tokens"] == 500  # the caller's body is kept


async def test_an_openai_compatible_server_gets_chat_completions(simulator_url: str) -> None:
    """Only OpenAI serves the Responses API: a configured server of the same wire format
    (Groq, vLLM, …) gets the request translated from its typed shape."""
    await _sent(simulator_url)
    deployment = _deployment(f"{simulator_url}/v1", provider="groq", model="llama-3.3-70b")
    async with provider() as openai:
        answer = await openai.complete(_request(RICH, stream=False), deployment)
        stream = await openai.stream(_request(RICH, stream=True), deployment)
        await _drain(stream)
    sent = await _sent(simulator_url)
    assert [s["path"] for s in sent] == ["/v1/chat/completions"] * 2
    assert sent[0]["body"]["messages"] == [{"role": "user", "content": "the weather in Paris?"}]
    assert answer.wire == "openai" and answer.native_for(WIRE) is None
    assert stream.wire == "openai"


# --- answers as they came, read into canonical terms -----------------------------------------


async def test_recorded_answers_are_read_exactly() -> None:
    [basic] = load("openai/responses_nonstream_basic.yaml")
    [reasoning] = load("openai/responses_nonstream_reasoning_tokens_o3mini.yaml")
    async with provider() as openai:
        with replay([basic, reasoning]) as url:
            plain = await openai.complete(_request({"input": "hi"}, stream=False), _deployment(url))
            thought = await openai.complete(
                _request({"input": "hi"}, stream=False), _deployment(url)
            )
    assert plain.native == orjson.loads(basic.body)
    assert plain.parts == [Text("The capital of France is Paris.")]
    assert (plain.usage.input_tokens, plain.usage.output_tokens) == (14, 8)
    assert (plain.usage.cache_read_tokens, plain.usage.reasoning_tokens) == (0, 0)
    assert plain.usage.cache_write_tokens is None  # not reported: unknown, not 0
    assert plain.model == "gpt-4o-2024-08-06" and plain.created == 1757604033
    assert isinstance(thought.parts[0], Thinking) and thought.parts[0].signature is None
    assert thought.text().startswith("Ingredients for the dough:")
    assert (thought.usage.output_tokens, thought.usage.reasoning_tokens) == (547, 128)


async def test_a_recorded_function_call_stream_is_relayed_byte_for_byte() -> None:
    [call, follow_up] = load("openai/responses_stream_function_call.yaml")
    body = {"input": "What is the capital of France?", "tools": [WEATHER]}
    async with provider() as openai:
        with replay([call, follow_up]) as url:
            stream = await openai.stream(_request(body, stream=True), _deployment(url))
            chunks = await _drain(stream)
            text_stream = await openai.stream(_request(body, stream=True), _deployment(url))
            text_chunks = await _drain(text_stream)
    assert isinstance(stream, ResponsesStream) and stream.wire == WIRE
    assert b"".join(c.native or b"" for c in chunks) == call.body
    events = _events(call.body)
    # Held until the first content: created, in_progress and the call's item come together
    # with its first argument fragment.
    assert chunks[0].native == b"".join(events[:4])
    assert len(chunks) == len(events) - 3
    deltas = [d for c in chunks for d in c.deltas]
    call_id = "call_kL0PCQV7M2WMoVX8V8OtYSAL"
    assert deltas[0] == ToolCallStart(0, call_id, "get_capital")
    arguments = "".join(d.fragment for d in deltas if isinstance(d, ToolArgumentsDelta))
    assert arguments == '{"country":"France"}'
    assert deltas[-1] == Finish("tool_calls") and stream.finish_reason == "tool_calls"
    assert (stream.usage.input_tokens, stream.usage.output_tokens) == (255, 16)
    assert stream.id == "resp_67e554a155508191900ee113293c4c830794405d35281ae2"
    assert stream.model == "gpt-4o-2024-08-06"
    # The follow-up streams text: held until its first delta, then one event a chunk.
    assert b"".join(c.native or b"" for c in text_chunks) == follow_up.body
    text = "".join(d.text for c in text_chunks for d in c.deltas if isinstance(d, TextDelta))
    assert text == "The capital of France is Paris." and text_stream.finish_reason == "stop"
    assert text_chunks[0].deltas == (TextDelta("The"),)


async def test_a_recorded_2026_stream_with_sequence_numbers() -> None:
    [recorded] = load("openai/responses_stream_text_raw_headers.yaml")
    async with provider() as openai:
        with replay([recorded]) as url:
            stream = await openai.stream(_request({"input": "hi"}, stream=True), _deployment(url))
            chunks = await _drain(stream)
    assert b"".join(c.native or b"" for c in chunks) == recorded.body
    assert [d for c in chunks for d in c.deltas] == [TextDelta("pong"), Finish("stop")]
    assert (stream.usage.input_tokens, stream.usage.output_tokens) == (11, 5)
    assert stream.usage.reasoning_tokens == 0 and stream.usage.cache_read_tokens == 0
    assert not chunks[-1].more


async def test_a_simulated_stream_matches_its_events(simulator_url: str) -> None:
    body = {"input": "What is the weather?", "tools": [WEATHER], "include": [], "stream": True}
    async with provider() as openai:
        stream = await openai.stream(
            _request(body, stream=True), _deployment(f"{simulator_url}/v1", model="o3-mini")
        )
        chunks = await _drain(stream)
    raw = b"".join(c.native or b"" for c in chunks)
    events = [_data(e) for e in _events(raw)]
    for event in events:
        assert_event_valid(event)
    completed = events[-1]["response"]
    [reasoning, call] = completed["output"]
    assert reasoning["type"] == "reasoning" and "encrypted_content" not in reasoning
    deltas = [d for c in chunks for d in c.deltas]
    assert ToolCallStart(0, call["call_id"], call["name"]) in deltas
    assert (
        "".join(d.fragment for d in deltas if isinstance(d, ToolArgumentsDelta))
        == (call["arguments"])
    )
    assert not any(isinstance(d, ThinkingDelta) for d in deltas)  # no encrypted content asked
    usage = completed["usage"]
    assert stream.usage.reasoning_tokens == usage["output_tokens_details"]["reasoning_tokens"]
    assert stream.usage.input_tokens == usage["input_tokens"] and stream.id == completed["id"]


# --- failures: 4xx is the caller's, 5xx/429 may fall back, a cut is an error ------------------


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (400, ErrorCode.BAD_REQUEST, False),
        (404, ErrorCode.BAD_REQUEST, False),
        (429, ErrorCode.PROVIDER_UNAVAILABLE, True),
        (500, ErrorCode.PROVIDER_ERROR, True),
        (503, ErrorCode.PROVIDER_UNAVAILABLE, True),
    ],
)
async def test_upstream_statuses(
    simulator_url: str, status: int, code: ErrorCode, retryable: bool
) -> None:
    await _fault(simulator_url, model="gpt-5", status=status, count=2)
    deployment = _deployment(f"{simulator_url}/v1")
    async with provider() as openai:
        for streamed in (False, True):
            with pytest.raises(GatewayError) as raised:
                request = _request({"input": "hi"}, stream=streamed)
                if streamed:
                    await openai.stream(request, deployment)
                else:
                    await openai.complete(request, deployment)
            assert raised.value.code == code and raised.value.retryable is retryable
            assert raised.value.provider_message  # OpenAI's words, for the caller


async def test_the_simulators_refusal_is_the_callers_400(simulator_url: str) -> None:
    """A body OpenAI refuses (here a Chat Completions field) is the caller's 400 with
    OpenAI's words, never retried."""
    async with provider() as openai:
        with pytest.raises(GatewayError) as raised:
            await openai.complete(
                _request({"input": "hi", "max_tokens": 9}, stream=False),
                _deployment(f"{simulator_url}/v1"),
            )
    assert raised.value.code == ErrorCode.BAD_REQUEST and not raised.value.retryable
    assert raised.value.provider_message == "Unknown parameter: 'max_tokens'."


async def test_a_failure_before_content_can_still_fall_back() -> None:
    """The recorded mid-stream failure (HTTP 200, then `error` and `response.failed`)
    arrives before any content: nothing was handed over, and the error says so."""
    [recorded] = load("openai/responses_stream_error_insufficient_quota.chunks.jsonl.txt")
    async with provider() as openai:
        with replay([recorded]) as url:
            stream = await openai.stream(_request({"input": "hi"}, stream=True), _deployment(url))
            with pytest.raises(GatewayError) as raised:
                await anext(aiter(stream))  # what the router awaits before committing
    assert raised.value.code == ErrorCode.PROVIDER_UNAVAILABLE and raised.value.retryable
    assert raised.value.provider_message is not None
    assert raised.value.provider_message.startswith("You exceeded your current quota")


async def test_a_failure_after_content_ends_the_stream(simulator_url: str) -> None:
    await _fault(simulator_url, model="gpt-4o", malformed_after_chunks=6, count=1)
    relayed: list[bytes] = []
    async with provider() as openai:
        stream = await openai.stream(
            _request({"input": "hi"}, stream=True), _deployment(f"{simulator_url}/v1", model=MODEL)
        )
        with pytest.raises(GatewayError) as raised:
            async for chunk in stream:
                relayed.append(chunk.native or b"")
    assert raised.value.code == ErrorCode.PROVIDER_ERROR
    assert raised.value.provider_message == (
        "The server had an error while processing your request. Sorry about that!"
    )
    events = _events(b"".join(relayed))
    assert len(events) == 6 and b"output_text.delta" in events[-1]
    assert all(b"event: error" not in e for e in events)  # the codec writes its own


@pytest.mark.parametrize("after", [2, 7])
async def test_a_cut_stream_is_an_error(simulator_url: str, after: int) -> None:
    await _fault(simulator_url, model="gpt-4o", cut_after_chunks=after, count=1)
    async with provider() as openai:
        stream = await openai.stream(
            _request({"input": "hi"}, stream=True), _deployment(f"{simulator_url}/v1", model=MODEL)
        )
        received: list[Chunk] = []
        with pytest.raises(GatewayError) as raised:
            async for chunk in stream:
                received.append(chunk)
    assert raised.value.code == ErrorCode.PROVIDER_ERROR
    assert "broke off" in raised.value.message
    # Cut among the opening events: nothing was handed over, so it may still fall back.
    assert (len(received) == 0) is (after == 2)


async def test_a_failed_response_and_a_stranger_body() -> None:
    [recorded] = load("openai/responses_nonstream_basic.yaml")
    failed = {**orjson.loads(recorded.body), "status": "failed", "output": []}
    failed["error"] = {"code": "server_error", "message": "The model failed."}
    answers = [
        Exchange({}, 200, "application/json", orjson.dumps(failed)),
        Exchange({}, 200, "application/json", b'{"choices": []}'),
    ]
    async with provider() as openai:
        with replay(answers) as url:
            with pytest.raises(GatewayError) as failure:
                await openai.complete(_request({"input": "hi"}, stream=False), _deployment(url))
            with pytest.raises(GatewayError) as stranger:
                await openai.complete(_request({"input": "hi"}, stream=False), _deployment(url))
    assert failure.value.retryable and failure.value.provider_message == "The model failed."
    assert stranger.value.retryable and "not a chat completion" in stranger.value.message


def test_a_tool_call_answer_reads_as_tool_calls() -> None:
    [call, _] = load("openai/responses_stream_function_call.yaml")
    final = _data(_events(call.body)[-1])["response"]
    answer = completion(final)
    arguments = '{"country":"France"}'
    call_id = "call_kL0PCQV7M2WMoVX8V8OtYSAL"
    assert answer.parts == [ToolCall(id=call_id, name="get_capital", arguments=arguments)]
    assert answer.finish_reason == "tool_calls" and answer.usage.output_tokens == 16


async def test_an_answer_cut_by_the_output_cap_finishes_with_length(simulator_url: str) -> None:
    body = {"input": "Say a lot.", "max_output_tokens": 16}
    deployment = _deployment(f"{simulator_url}/v1", model=MODEL)
    async with provider() as openai:
        answer = await openai.complete(_request(body, stream=False), deployment)
        stream = await openai.stream(_request(body, stream=True), deployment)
        chunks = await _drain(stream)
    assert answer.native is not None and answer.native["status"] == "incomplete"
    assert answer.finish_reason == "length" and answer.usage.output_tokens == 16
    assert stream.finish_reason == "length" and chunks[-1].deltas == (Finish("length"),)
    assert b"event: response.incomplete" in (chunks[-1].native or b"")
    assert stream.usage.output_tokens == 16


async def test_arguments_that_come_only_with_the_finished_call() -> None:
    """The recorded call stream without its argument fragments: the arguments of the finished
    item are the call's, once (with the fragments, they are not repeated)."""
    [call, _] = load("openai/responses_stream_function_call.yaml")
    kept = [e for e in _events(call.body) if b"function_call_arguments.delta" not in e]
    whole = Exchange(call.request, 200, call.content_type, b"".join(kept))
    async with provider() as openai:
        with replay([whole, call]) as url:
            streams = []
            for _ in range(2):
                stream = await openai.stream(
                    _request({"input": "hi"}, stream=True), _deployment(url)
                )
                streams.append([d for c in await _drain(stream) for d in c.deltas])
    for deltas in streams:
        fragments = [d.fragment for d in deltas if isinstance(d, ToolArgumentsDelta)]
        assert "".join(fragments) == '{"country":"France"}'
    assert len([d for d in streams[0] if isinstance(d, ToolArgumentsDelta)]) == 1
