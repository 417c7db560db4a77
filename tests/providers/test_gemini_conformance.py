"""Every recorded Gemini exchange replayed through the Gemini provider over a real socket:
text, thinking, tool calls, finish reason, usage (to the token) and cost as the typed answer
and stream deltas (every stream checked for the shape surfaces rely on: deltas in every
chunk, calls numbered from 0 as they start, one finish, last); and the request translation
checked against the request bodies that were actually sent, where an OpenAI request (decoded
into the canonical one) can say the same thing.

Streams recorded without `alt=sse` (one JSON array) are re-framed as SSE, since the provider
always asks for SSE; the Vertex chunk file is re-framed the same way."""

from __future__ import annotations

import base64
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
    ThinkingDelta,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
    Usage,
)
from routeplex_gateway.errors import ErrorCode, GatewayError
from routeplex_gateway.metering.pricing import lookup_price
from routeplex_gateway.providers.gemini import GeminiProvider
from routeplex_gateway.providers.gemini_answer import GeminiStream
from routeplex_gateway.providers.gemini_calls import call_id, signature_of
from routeplex_gateway.providers.gemini_translate import to_gemini as _to_gemini
from tests.support.cassettes import Exchange, Received, json_array_as_sse, load, replay
from tests.support.chat import openai_request

MTOK = Decimal(10) ** 6
HELLO: dict[str, Any] = {"messages": [{"role": "user", "content": "hello"}]}


def _deployment(url: str, model: str) -> Deployment:
    return Deployment(
        provider="gemini", kind="gemini", base_url=url, api_key="AIza-test", upstream_model=model
    )


def _request(body: dict[str, Any], *, stream: bool = False) -> ChatRequest:
    return openai_request(body, stream=stream)


def to_gemini(body: dict[str, Any], model: str) -> dict[str, Any]:
    return _to_gemini(openai_request(body), model)


async def _complete(
    exchange: Exchange,
    body: dict[str, Any] | None = None,
    model: str = "gemini-2.5-flash",
    received: list[Received] | None = None,
) -> ChatResponse:
    provider = GeminiProvider()
    try:
        with replay([exchange], received) as url:
            response = await provider.complete(_request(body or HELLO), _deployment(url, model))
    finally:
        await provider.close()
    assert response.wire == "gemini"
    assert response.native is not None and response.native_for("gemini") is response.native
    assert response.native_for("openai") is None
    return response


async def _streamed(
    exchange: Exchange,
    body: dict[str, Any] | None = None,
    model: str = "gemini-2.5-flash",
    received: list[Received] | None = None,
) -> tuple[list[Chunk], GeminiStream]:
    provider = GeminiProvider()
    try:
        with replay([exchange], received) as url:
            stream = await provider.stream(
                _request(body or HELLO, stream=True), _deployment(url, model)
            )
            chunks = [chunk async for chunk in stream]
    finally:
        await provider.close()
    assert stream.wire == "gemini"
    deltas = [d for c in chunks for d in c.deltas]
    for chunk in chunks:
        assert chunk.deltas and chunk.native is None  # no surface speaks Gemini
    # Calls numbered from 0 in the order they start, each started before its arguments.
    starts = [d.index for d in deltas if isinstance(d, ToolCallStart)]
    assert starts == list(range(len(starts)))
    started: set[int] = set()
    for delta in deltas:
        if isinstance(delta, ToolCallStart):
            started.add(delta.index)
        elif isinstance(delta, ToolArgumentsDelta):
            assert delta.index in started
    # One finish, the last delta, saying what the stream says.
    assert stream.finish_reason is not None
    assert [d for d in deltas if isinstance(d, Finish)] == [Finish(stream.finish_reason)]
    assert isinstance(deltas[-1], Finish)
    return chunks, stream


async def _stream(
    exchange: Exchange,
    body: dict[str, Any] | None = None,
    model: str = "gemini-2.5-flash",
    received: list[Received] | None = None,
) -> tuple[list[Chunk], Usage, str | None]:
    chunks, stream = await _streamed(exchange, body, model, received)
    return chunks, stream.usage, stream.finish_reason


def _text(chunks: list[Chunk]) -> str:
    return "".join(d.text for c in chunks for d in c.deltas if isinstance(d, TextDelta))


def _thinking(chunks: list[Chunk]) -> str:
    return "".join(d.text for c in chunks for d in c.deltas if isinstance(d, ThinkingDelta))


def _streamed_calls(chunks: list[Chunk]) -> list[dict[str, Any]]:
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for delta in chunk.deltas:
            if isinstance(delta, ToolCallStart):
                calls[delta.index] = {"id": delta.id, "name": delta.name, "arguments": ""}
            elif isinstance(delta, ToolArgumentsDelta):
                calls[delta.index]["arguments"] += delta.fragment
    return [{**c, "args": json.loads(c["arguments"])} for _, c in sorted(calls.items())]


def _calls(response: ChatResponse) -> list[ToolCall]:
    return [p for p in response.parts if isinstance(p, ToolCall)]


def _assistant(response: ChatResponse) -> dict[str, Any]:
    """The answer as an OpenAI client sends it back in the next request."""
    calls = [
        _as_call({"id": c.id, "name": c.name, "arguments": c.arguments}) for c in _calls(response)
    ]
    return {"role": "assistant", "content": response.text() or None, "tool_calls": calls}


def _cost(model: str, usage: Usage) -> Decimal:
    price = lookup_price(model, "gemini")
    assert price is not None
    return price.cost(usage)


def _camel(value: Any) -> Any:
    """Gemini accepts snake_case field names too; recordings use both spellings."""
    if isinstance(value, list):
        return [_camel(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        head, *rest = key.split("_")
        out[head + "".join(w.title() for w in rest)] = _camel(item)
    return out


def _signature_bytes(signature: str) -> bytes:
    return base64.b64decode(signature.replace("-", "+").replace("_", "/"))


def _as_call(call: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": call["id"],
        "type": "function",
        "function": {"name": call["name"], "arguments": call["arguments"]},
    }


# --- non-streamed ---------------------------------------------------------------------------


async def test_generate_content_text_thoughts_usage_and_cost() -> None:
    [exchange] = load("google/generate_content_basic_thoughts_tokens.yaml")
    body = {
        "messages": [
            {"role": "system", "content": "You are a chatbot."},
            {"role": "user", "content": "Hello!"},
        ]
    }
    sent = to_gemini(body, "gemini-2.5-flash")
    recorded = exchange.request
    assert sent["contents"] == recorded["contents"]
    assert sent["systemInstruction"]["parts"] == recorded["systemInstruction"]["parts"]
    received: list[Received] = []
    response = await _complete(exchange, body, received=received)
    assert received[0].path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert received[0].headers["x-goog-api-key"] == "AIza-test"
    assert response.parts == [Text("Hello! How can I help you today?")]
    assert response.finish_reason == "stop"
    assert response.model == "gemini-2.5-flash"
    recorded_answer = json.loads(exchange.body)
    assert response.native == recorded_answer
    assert response.id == recorded_answer["responseId"]
    # Thoughts are billed as output and reported as reasoning.
    assert response.usage == Usage(
        input_tokens=9,
        output_tokens=9 + 34,
        cache_read_tokens=0,
        reasoning_tokens=34,
        input_audio_tokens=0,  # promptTokensDetails: TEXT only
        cache_audio_read_tokens=0,
    )
    assert response.usage.openai()["completion_tokens_details"]["reasoning_tokens"] == 34
    assert response.usage.total_tokens == 52
    assert (
        _cost("gemini-2.5-flash", response.usage)
        == (9 * Decimal("0.3") + 43 * Decimal("2.5")) / MTOK
    )


async def test_generate_content_function_call_and_response() -> None:
    call_turn, result_turn = load("google/generate_content_function_call.yaml")
    declarations = call_turn.request["tools"][0]["functionDeclarations"]
    tools = [
        {
            "type": "function",
            "function": {"name": d["name"], "description": d["description"], "parameters": {}},
        }
        for d in declarations
    ]
    question = {"role": "user", "content": "What is the largest city in the user country?"}
    names = [d["name"] for d in declarations]
    body: dict[str, Any] = {
        "messages": [question],
        "tools": tools,
        "tool_choice": {
            "type": "allowed_tools",
            "allowed_tools": {
                "mode": "required",
                "tools": [{"type": "function", "function": {"name": n}} for n in names],
            },
        },
    }
    sent = to_gemini(body, "gemini-2.0-flash")
    assert sent["toolConfig"] == call_turn.request["toolConfig"]
    assert sent["contents"] == call_turn.request["contents"]
    assert [d["name"] for d in sent["tools"][0]["functionDeclarations"]] == names
    assert to_gemini({**body, "tool_choice": "required"}, "m")["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY"}
    }

    response = await _complete(call_turn, body, "gemini-2.0-flash")
    assert response.finish_reason == "tool_calls"  # Gemini said STOP
    [call] = response.parts  # no text beside the call
    assert isinstance(call, ToolCall)
    assert call.name == "get_user_country"
    assert json.loads(call.arguments) == {}
    assert call.id == call_id("LlteaIDvD9m7nvgPz5Sb0Aw", 0)  # deterministic
    assert response.usage == Usage(
        33, 5, 0, reasoning_tokens=0, input_audio_tokens=0, cache_audio_read_tokens=0
    )

    follow_up = {
        **body,
        "messages": [
            question,
            _assistant(response),
            {"role": "tool", "tool_call_id": call.id, "content": "Mexico"},
        ],
    }
    sent = to_gemini(follow_up, "gemini-2.0-flash")
    recorded = result_turn.request["contents"]
    assert [c["role"] for c in sent["contents"]] == [c["role"] for c in recorded]
    sent_call = sent["contents"][1]["parts"][0]["functionCall"]
    assert (sent_call["name"], sent_call["args"]) == ("get_user_country", {})
    sent_result = sent["contents"][2]["parts"][0]["functionResponse"]
    assert sent_result == {"name": "get_user_country", "response": {"output": "Mexico"}}

    answer = await _complete(result_turn, follow_up, "gemini-2.0-flash")
    [final] = answer.parts
    assert isinstance(final, ToolCall) and answer.finish_reason == "tool_calls"
    assert final.name == "final_result"
    assert json.loads(final.arguments) == {
        "city": "Mexico City",
        "country": "Mexico",
    }
    assert answer.usage == Usage(
        47, 8, 0, reasoning_tokens=0, input_audio_tokens=0, cache_audio_read_tokens=0
    )
    assert (
        _cost("gemini-2.0-flash", answer.usage) == (47 * Decimal("0.1") + 8 * Decimal("0.4")) / MTOK
    )


async def test_generate_content_cached_tokens_are_part_of_the_prompt() -> None:
    [exchange] = load("google/generate_content_cached_content_tokens.yaml")
    response = await _complete(exchange)
    [text] = response.parts
    assert isinstance(text, Text) and text.text.startswith("This video demonstrates")
    usage = response.usage
    assert usage == Usage(
        input_tokens=17713,
        output_tokens=68 + 821,
        cache_read_tokens=17379,
        reasoning_tokens=821,
        input_audio_tokens=1917,
        cache_audio_read_tokens=1881,
    )
    assert usage.total_tokens == 18602
    assert usage.openai()["prompt_tokens_details"]["cached_tokens"] == 17379
    # Audio at its own rates ($1 in, $0.10 cached), text and video at the text rates.
    uncached_audio = 1917 - 1881
    uncached_rest = 17713 - 17379 - uncached_audio
    expected = (
        uncached_rest * Decimal("0.3")
        + uncached_audio * Decimal(1)
        + (17379 - 1881) * Decimal("0.03")
        + 1881 * Decimal("0.1")
        + 889 * Decimal("2.5")
    ) / MTOK
    assert _cost("gemini-2.5-flash", usage) == expected


# --- streamed -------------------------------------------------------------------------------


async def test_sse_basic_last_prompt_count_wins() -> None:
    [exchange] = load("google/stream_generate_content_sse_basic.yaml")
    body = {
        "messages": [
            {"role": "system", "content": "You are a helpful chatbot."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        "temperature": 0.0,
    }
    sent = to_gemini(body, "gemini-2.0-flash-exp")
    recorded = exchange.request
    assert sent["contents"] == recorded["contents"]
    assert sent["systemInstruction"]["parts"] == recorded["systemInstruction"]["parts"]
    assert sent["generationConfig"] == recorded["generationConfig"]
    received: list[Received] = []
    chunks, stream = await _streamed(exchange, body, "gemini-2.0-flash-exp", received)
    usage, finish = stream.usage, stream.finish_reason
    assert received[0].path == "/v1beta/models/gemini-2.0-flash-exp:streamGenerateContent?alt=sse"
    assert _text(chunks) == "The capital of France is Paris.\n"
    assert finish == "stop" and chunks[-1].deltas[-1] == Finish("stop")
    assert stream.model == "gemini-2.0-flash-exp"
    assert stream.id and stream.created > 0
    assert usage == Usage(
        13, 8, 0, reasoning_tokens=0, input_audio_tokens=0, cache_audio_read_tokens=0
    )  # 15 → 13 in the final chunk


async def test_sse_cumulative_usage_is_taken_from_the_last_chunk() -> None:
    [exchange] = load("google/stream_generate_content_sse_cumulative_usage.yaml")
    chunks, usage, finish = await _stream(exchange)
    assert _text(chunks) == "\n".join(str(n) for n in range(1, 31))
    assert finish == "stop"
    # 31 → 79 → 80 candidates, 35 thoughts on every chunk: never summed.
    assert usage == Usage(
        18, 80 + 35, 0, reasoning_tokens=35, input_audio_tokens=0, cache_audio_read_tokens=0
    )
    assert _cost("gemini-2.5-flash", usage) == (18 * Decimal("0.3") + 115 * Decimal("2.5")) / MTOK


async def test_sse_function_call_thought_signature_round_trip() -> None:
    call_turn, text_turn = load(
        "google/stream_generate_content_sse_function_call_thought_signature.yaml"
    )
    declaration = call_turn.request["tools"][0]["functionDeclarations"][0]
    tools = [
        {
            "type": "function",
            "function": {
                "name": declaration["name"],
                "description": declaration["description"],
                "parameters": declaration["parameters_json_schema"],
            },
        }
    ]
    question = {"role": "user", "content": "What is the capital of the user country? Call the tool"}
    body: dict[str, Any] = {"messages": [question], "tools": tools}
    model = "gemini-3-pro-preview"
    sent = to_gemini(body, model)
    assert sent["contents"] == call_turn.request["contents"]
    assert _camel(call_turn.request["tools"]) == sent["tools"]

    chunks, usage, finish = await _stream(call_turn, body, model)
    assert finish == "tool_calls"
    [call] = _streamed_calls(chunks)
    assert (call["name"], call["args"]) == ("get_country", {})
    recorded_signature = json.loads(call_turn.body.split(b"\r\n\r\n")[0][6:])["candidates"][0][
        "content"
    ]["parts"][0]["thoughtSignature"]
    assert call["id"].startswith("call_")
    assert signature_of(call["id"]) == recorded_signature
    assert usage == Usage(
        29, 10 + 202, 0, reasoning_tokens=202, input_audio_tokens=0, cache_audio_read_tokens=0
    )
    assert _cost(model, usage) == (29 * Decimal(2) + 212 * Decimal(12)) / MTOK

    follow_up = {
        **body,
        "messages": [
            question,
            {"role": "assistant", "content": None, "tool_calls": [_as_call(call)]},
            {"role": "tool", "tool_call_id": call["id"], "content": "Mexico"},
        ],
    }
    sent = to_gemini(follow_up, model)
    recorded = text_turn.request["contents"]
    assert [c["role"] for c in sent["contents"]] == [c["role"] for c in recorded]
    sent_part, recorded_part = sent["contents"][1]["parts"][0], recorded[1]["parts"][0]
    assert sent_part["functionCall"] == {"name": "get_country", "args": {}}
    # The same signature bytes go back (the recording used URL-safe base64, Gemini sent
    # standard base64; both decode alike).
    assert _signature_bytes(sent_part["thoughtSignature"]) == _signature_bytes(
        recorded_part["thoughtSignature"]
    )
    assert sent["contents"][2]["parts"][0]["functionResponse"]["name"] == "get_country"

    chunks, usage, finish = await _stream(text_turn, follow_up, model)
    assert (_text(chunks), finish) == ("The capital of Mexico is Mexico City.", "stop")
    assert usage == Usage(
        257, 8, 0, reasoning_tokens=0, input_audio_tokens=0, cache_audio_read_tokens=0
    )  # 55 → 257 in the final chunk


async def test_json_array_thinking_stream_hides_thoughts() -> None:
    [exchange] = load("google/stream_generate_content_json_array_thinking.yaml")
    chunks, stream = await _streamed(json_array_as_sse(exchange))
    usage, finish = stream.usage, stream.finish_reason
    # The thought summary is reasoning, never answer text.
    assert _text(chunks) == "Scoop"
    assert _thinking(chunks).startswith("**Considering the Constraint**")
    assert "Considering the Constraint" not in _text(chunks)
    assert finish == "stop"
    assert stream.model == "gemini-3.6-flash"
    assert usage == Usage(
        11, 2 + 291, 0, reasoning_tokens=291, input_audio_tokens=0, cache_audio_read_tokens=0
    )


async def test_json_array_function_calls_over_three_turns() -> None:
    turns = [
        json_array_as_sse(e)
        for e in load("google/stream_generate_content_json_array_function_call.yaml")
    ]
    chunks, usage, finish = await _stream(turns[0])
    assert finish == "tool_calls"
    [first] = _streamed_calls(chunks)
    assert (first["name"], first["args"]) == ("pelican_name_generator", {})
    assert signature_of(first["id"]) is not None
    assert "Generating Pelican Names" not in _text(chunks) + json.dumps(first)
    assert _thinking(chunks).startswith("**Generating Pelican Names**")
    assert usage == Usage(
        32, 12 + 42, 0, reasoning_tokens=42, input_audio_tokens=0, cache_audio_read_tokens=0
    )

    chunks, usage, finish = await _stream(turns[1])
    [second] = _streamed_calls(chunks)
    assert finish == "tool_calls" and second["name"] == "pelican_name_generator"
    assert signature_of(second["id"]) is None
    assert first["id"] != second["id"]
    assert usage == Usage(
        105, 13, 0, reasoning_tokens=0, input_audio_tokens=0, cache_audio_read_tokens=0
    )

    chunks, usage, finish = await _stream(turns[2])
    assert (_text(chunks), finish) == ("How about Charles and Sammy?", "stop")
    assert usage == Usage(
        137, 6, 0, reasoning_tokens=0, input_audio_tokens=0, cache_audio_read_tokens=0
    )

    # The third request's history, from the OpenAI side: calls answered by id, the first
    # call's signature restored, roles alternating as recorded.
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Two names for a pet pelican"}]
    for call, result in ((first, "Charles"), (second, "Sammy")):
        messages.append({"role": "assistant", "content": None, "tool_calls": [_as_call(call)]})
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
    sent = to_gemini({"messages": messages}, "gemini-2.5-flash")["contents"]
    recorded = turns[2].request["contents"]
    assert [c["role"] for c in sent] == [c["role"] for c in recorded]
    assert [
        p["functionResponse"]["response"] for p in (sent[2]["parts"][0], sent[4]["parts"][0])
    ] == [r["parts"][0]["function_response"]["response"] for r in (recorded[2], recorded[4])]
    assert sent[1]["parts"][0]["thoughtSignature"] == recorded[1]["parts"][0]["thoughtSignature"]
    assert "thoughtSignature" not in sent[3]["parts"][0]


async def test_vertex_partial_args_are_assembled() -> None:
    [exchange] = load("google/vertex_stream_function_call_partial_args.chunks.jsonl.txt")
    chunks, usage, finish = await _stream(exchange, model="gemini-3.1-pro-preview")
    assert finish == "tool_calls"
    calls = _streamed_calls(chunks)
    assert [(c["name"], c["args"]) for c in calls] == [
        ("getWeather", {"location": "Boston"}),
        ("getWeather", {"location": "San Francisco"}),
    ]
    assert signature_of(calls[0]["id"]) is not None
    # Intermediate chunks carry no counts; the final one has them all.
    assert usage == Usage(
        26, 23 + 132, 0, reasoning_tokens=132, input_audio_tokens=0, cache_audio_read_tokens=0
    )


# --- errors (documented shapes: no Gemini error was found as a permissive recording) ---------


def _google_error(status: int, code: str, message: str, details: list[Any]) -> Exchange:
    body = {"error": {"code": status, "message": message, "status": code, "details": details}}
    return Exchange({}, status, "application/json", json.dumps(body).encode())


async def test_bad_api_key_400_is_the_gateways_credentials() -> None:
    exchange = _google_error(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
    )
    with pytest.raises(GatewayError) as raised:
        await _complete(exchange)
    error = raised.value
    assert error.code is ErrorCode.PROVIDER_ERROR and not error.retryable
    assert "gateway's credentials" in error.message
    # The provider's words are about the operator's key: not the caller's to read.
    assert error.provider_message is None
    assert "API key not valid" not in error.openai_body().decode()


async def test_resource_exhausted_honours_retry_delay() -> None:
    exchange = _google_error(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota.",
        [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"},
        ],
    )
    with pytest.raises(GatewayError) as raised:
        await _complete(exchange)
    assert raised.value.code is ErrorCode.PROVIDER_UNAVAILABLE and raised.value.retryable
    assert raised.value.retry_after_s == 1.5


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (500, True), (503, True)])
async def test_other_statuses(status: int, retryable: bool) -> None:
    exchange = _google_error(status, "X", "m", [])
    with pytest.raises(GatewayError) as raised:
        await _complete(exchange)
    assert raised.value.retryable is retryable


async def test_stream_without_finish_reason_is_broken() -> None:
    [exchange] = load("google/stream_generate_content_sse_basic.yaml")
    first_two = b"\r\n\r\n".join(exchange.body.split(b"\r\n\r\n")[:2]) + b"\r\n\r\n"
    with pytest.raises(GatewayError) as raised:
        await _stream(Exchange({}, 200, "text/event-stream", first_two))
    assert raised.value.code is ErrorCode.PROVIDER_ERROR
    assert "finish reason" in raised.value.message
