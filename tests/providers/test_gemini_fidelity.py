"""Gemini fidelity over real sockets: exact bills (audio priced as audio), faithful finish
reasons and errors, and translated options — the official `openai` SDK → gateway → the
simulator speaking Gemini's wire format, or the provider alone against crafted traffic."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import httpx
import openai
import orjson
import pytest

from routeplex_gateway.canonical import ChatResponse, Chunk, Deployment, Finish, TextDelta
from routeplex_gateway.errors import ErrorCode, GatewayError
from routeplex_gateway.providers.gemini import GeminiProvider
from tests.conftest import RunningGateway
from tests.support.cassettes import Exchange, replay
from tests.support.chat import openai_request

MODEL = "gemini-2.5-flash"  # $0.30 text / $1.00 audio in, $2.50 out
MTOK = Decimal(10) ** 6
HELLO: Any = [{"role": "user", "content": "hello"}]
WAV = base64.b64encode(b"RIFF\x24\x00\x00\x00WAVEfmt ").decode()


def _client(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.keys["alice"], max_retries=0)


def _upstream(gw: RunningGateway) -> dict[str, Any]:
    seen = httpx.get(f"{gw.simulator_url}/_simulator/requests").json()["requests"]
    body: dict[str, Any] = [r["body"] for r in seen if r["path"].startswith("/v1beta/")][-1]
    return body


# --- 2. audio input is priced as audio ------------------------------------------------------


def test_audio_input_is_billed_at_the_audio_rate(gateway: RunningGateway) -> None:
    content: Any = [
        {"type": "text", "text": "Transcribe this."},
        {"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}},
    ]
    reply = _client(gateway).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": content}], reasoning_effort="none"
    )
    assert _upstream(gateway)["contents"][0]["parts"][1]["inlineData"]["mimeType"] == "audio/wav"
    details = reply.model_dump()["x_routeplex"]["usage_details"]
    audio = details["input_audio_tokens"]
    assert audio and audio > 0
    assert reply.usage is not None
    prompt, output = reply.usage.prompt_tokens, reply.usage.completion_tokens
    [row] = gateway.metadata(expect=1, timeout=15)
    text_rate = ((prompt - audio) * Decimal("0.3") + audio * Decimal(1)) / MTOK
    expected = text_rate + output * Decimal("2.5") / MTOK
    assert Decimal(row["cost_picousd"]) / 10**12 == expected


# --- 5. finish reasons -------------------------------------------------------------------------


def _answer(finish: str | None, text: str = "") -> dict[str, Any]:
    parts = [{"text": text}] if text else []
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
    if finish is not None:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "r1",
    }


def _sse(*chunks: dict[str, Any]) -> Exchange:
    body = b"".join(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks)
    return Exchange({}, 200, "text/event-stream", body)


async def _provider_call(exchange: Exchange, *, stream: bool) -> list[ChatResponse | Chunk]:
    provider = GeminiProvider()
    deployment = Deployment(
        provider="gemini",
        kind="gemini",
        base_url="",
        api_key="k",
        upstream_model="gemini-2.5-flash",
    )
    request = openai_request({"messages": HELLO}, stream=stream)
    try:
        with replay([exchange]) as url:
            deployment.base_url = url
            if not stream:
                return [await provider.complete(request, deployment)]
            started = await provider.stream(request, deployment)
            return [chunk async for chunk in started]
    finally:
        await provider.close()


@pytest.mark.parametrize(
    "reason",
    ["OTHER", "LANGUAGE", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "SPII", "BLOCKLIST", "SAFETY"],
)
async def test_policy_stops_are_content_filter_not_an_empty_answer(reason: str) -> None:
    [response] = await _provider_call(
        Exchange({}, 200, "application/json", orjson.dumps(_answer(reason))), stream=False
    )
    assert isinstance(response, ChatResponse)
    assert response.finish_reason == "content_filter" and response.parts == []
    chunks = await _provider_call(_sse(_answer(None, "Hi"), _answer(reason)), stream=True)
    assert isinstance(chunks[-1], Chunk)
    assert chunks[-1].deltas == (Finish("content_filter"),)


@pytest.mark.parametrize("reason", ["MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL"])
async def test_a_botched_function_call_is_a_retryable_provider_error(reason: str) -> None:
    for stream in (False, True):
        exchange = (
            _sse(_answer(reason))
            if stream
            else Exchange({}, 200, "application/json", orjson.dumps(_answer(reason)))
        )
        with pytest.raises(GatewayError) as raised:
            await _provider_call(exchange, stream=stream)
        assert raised.value.code is ErrorCode.PROVIDER_ERROR and raised.value.retryable
        assert raised.value.details["finish_reason"] == reason


# --- 10. tools with response_format on Gemini 2.x ------------------------------------------------


def test_tools_with_json_output_ask_for_json_in_words(gateway: RunningGateway) -> None:
    tool: Any = {
        "type": "function",
        "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
    }
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    response_format: Any = {"type": "json_schema", "json_schema": {"name": "c", "schema": schema}}
    # The simulator refuses tools with a JSON response type on Gemini 2.x, as Gemini does.
    reply = _client(gateway).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the weather?"}],
        tools=[tool],
        response_format=response_format,
    )
    assert reply.choices[0].finish_reason == "tool_calls"
    sent = _upstream(gateway)
    assert "responseMimeType" not in sent.get("generationConfig", {})
    [instruction] = sent["systemInstruction"]["parts"]
    assert '"city"' in instruction["text"]
    # Without tools the response type is used as before.
    _client(gateway).chat.completions.create(
        model=MODEL, messages=HELLO, response_format=response_format
    )
    assert _upstream(gateway)["generationConfig"]["responseJsonSchema"] == schema


# --- 7. options are mapped, refused or (documented as) ignored -----------------------------------


def test_logprobs_and_penalties_are_mapped(gateway: RunningGateway) -> None:
    _client(gateway).chat.completions.create(
        model=MODEL,
        messages=HELLO,
        logprobs=True,
        top_logprobs=2,
        presence_penalty=0.5,
        frequency_penalty=-0.25,
    )
    config = _upstream(gateway)["generationConfig"]
    assert config["responseLogprobs"] is True and config["logprobs"] == 2
    assert config["presencePenalty"] == 0.5 and config["frequencyPenalty"] == -0.25


def test_parallel_tool_calls_false_is_refused(gateway: RunningGateway) -> None:
    tool: Any = {"type": "function", "function": {"name": "lookup", "parameters": {}}}
    with pytest.raises(openai.BadRequestError) as raised:
        _client(gateway).chat.completions.create(
            model=MODEL, messages=HELLO, tools=[tool], parallel_tool_calls=False
        )
    assert raised.value.param == "parallel_tool_calls"


async def test_logprobs_result_comes_back_as_openai_logprobs() -> None:
    answer = _answer("STOP", "Hi there")
    answer["candidates"][0]["logprobsResult"] = {
        "topCandidates": [
            {
                "candidates": [
                    {"token": "Hi", "logProbability": -0.1},
                    {"token": "Hello", "logProbability": -2.5},
                ]
            },
            {"candidates": [{"token": " there", "logProbability": -0.3}]},
        ],
        "chosenCandidates": [
            {"token": "Hi", "logProbability": -0.1},
            {"token": " there", "logProbability": -0.3},
        ],
    }
    [response] = await _provider_call(
        Exchange({}, 200, "application/json", orjson.dumps(answer)), stream=False
    )
    assert isinstance(response, ChatResponse)
    content = response.logprobs
    assert content is not None
    assert [(t.token, t.logprob) for t in content] == [("Hi", -0.1), (" there", -0.3)]
    assert content[0].top is not None and content[1].top is not None
    assert [(t.token, t.logprob) for t in content[0].top] == [("Hi", -0.1), ("Hello", -2.5)]
    assert [t.token for t in content[1].top] == [" there"]
    chunks = await _provider_call(_sse(answer), stream=True)
    texts = [
        d for c in chunks if isinstance(c, Chunk) for d in c.deltas if isinstance(d, TextDelta)
    ]
    [streamed] = [d.logprobs for d in texts if d.logprobs]
    assert list(streamed) == content
    assert "".join(d.text for d in texts) == "Hi there"


# --- 14. an image URL's media type is known or refused, never guessed --------------------------


def test_image_url_without_an_extension_is_refused(gateway: RunningGateway) -> None:
    def ask(url: str) -> None:
        content: Any = [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": url}},
        ]
        _client(gateway).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": content}]
        )

    ask("https://example.com/photos/cat.webp")
    file_data = _upstream(gateway)["contents"][0]["parts"][1]["fileData"]
    assert file_data["mimeType"] == "image/webp"
    with pytest.raises(openai.BadRequestError) as raised:
        ask("https://example.com/render?id=42")
    assert raised.value.param == "messages[0].content[1].image_url"
