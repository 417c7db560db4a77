"""The Gemini provider's requests from the typed canonical shape, over real sockets: canonical
requests made of typed parts (images, audio, documents, tool results, thinking, parts and
tools of another wire format) as the Gemini bodies the simulator receives (it validates as
Gemini does, thought signatures included), and the errors naming the caller's field."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from routeplex_gateway.canonical import (
    Audio,
    CacheMark,
    ChatRequest,
    ChatResponse,
    Chunk,
    Deployment,
    Document,
    Finish,
    Image,
    Media,
    Message,
    Opaque,
    Reasoning,
    Refusal,
    Sampling,
    Text,
    Thinking,
    Tool,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
    ToolChoice,
    ToolResult,
)
from routeplex_gateway.errors import GatewayError
from routeplex_gateway.providers.gemini import GeminiProvider
from routeplex_gateway.providers.gemini_calls import call_id, signature_of
from routeplex_gateway.providers.gemini_translate import to_gemini

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(16)).decode()
WAV = base64.b64encode(b"RIFF\x24\x00\x00\x00WAVEfmt ").decode()
PDF = base64.b64encode(b"%PDF-1.4\n%%EOF").decode()
SIGNATURE = base64.b64encode(b"gemini's own signature bytes").decode()
WEATHER = Tool(
    name="get_weather",
    description="The weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


def _user(*parts: Any) -> Message:
    return Message("user", tuple(parts))


def _deployment(url: str, model: str = "gemini-2.5-flash") -> Deployment:
    return Deployment(
        provider="gemini", kind="gemini", base_url=url, api_key="AIza-test", upstream_model=model
    )


def _sent(simulator_url: str) -> dict[str, Any]:
    seen = httpx.get(f"{simulator_url}/_simulator/requests").json()["requests"]
    body: dict[str, Any] = [r["body"] for r in seen if r["path"].startswith("/v1beta/")][-1]
    return body


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


# --- canonical request → Gemini body, as the simulator (validating as Gemini does) gets it ---


async def test_media_parts_reach_gemini_as_inline_and_file_data(simulator_url: str) -> None:
    request = ChatRequest(
        messages=[
            Message("system", (Text("Describe what you get.", CacheMark()),)),
            _user(
                Text("look", CacheMark("1h")),  # cache marks mean nothing to Gemini
                Image(media=Media(media_type="image/png", data=PNG), detail="high"),
                Image(media=Media(media_type=None, url="https://example.com/cat.webp")),
                Audio(media=Media(media_type="audio/wav", data=WAV)),
                Document(media=Media(media_type="application/pdf", data=PDF), filename="a.pdf"),
                Text(""),  # empty text is left out, as Gemini refuses it
            ),
        ],
        max_output_tokens=200,
        sampling=Sampling(temperature=0.5, top_k=40, stop=("END",), seed=3),
    )
    response = await _complete(simulator_url, request)
    assert response.finish_reason == "stop" and response.text()
    assert response.usage.known and response.usage.input_audio_tokens
    sent = _sent(simulator_url)
    assert sent["systemInstruction"] == {"parts": [{"text": "Describe what you get."}]}
    assert sent["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "look"},
                {"inlineData": {"mimeType": "image/png", "data": PNG}},
                {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp"}},
                {"inlineData": {"mimeType": "audio/wav", "data": WAV}},
                {"inlineData": {"mimeType": "application/pdf", "data": PDF}},
            ],
        }
    ]
    assert sent["generationConfig"] == {
        "temperature": 0.5,
        "topK": 40,
        "seed": 3,
        "maxOutputTokens": 200,
        "stopSequences": ["END"],
    }


def test_a_document_by_url_and_an_image_url_without_extension_are_refused() -> None:
    document = Document(media=Media(media_type="application/pdf", url="https://x/doc"))
    with pytest.raises(GatewayError) as raised:
        to_gemini(ChatRequest(messages=[_user(Text("a"), document)]), "gemini-2.5-flash")
    assert raised.value.param == "messages[0].content[1]"
    image = Image(media=Media(media_type=None, url="https://x/render?id=1"))
    with pytest.raises(GatewayError) as raised:
        to_gemini(ChatRequest(messages=[_user(image)]), "gemini-2.5-flash")
    assert raised.value.param == "messages[0].content[0].image_url"


def test_parts_and_tools_of_another_wire_are_refused_by_name_own_ones_forwarded() -> None:
    foreign = Opaque("anthropic", {"type": "web_search_tool_result"}, "messages[0].content[1]")
    with pytest.raises(GatewayError) as raised:
        to_gemini(ChatRequest(messages=[_user(Text("a"), foreign)]), "m")
    assert raised.value.param == "messages[0].content[1].type"
    assert "web_search" not in raised.value.message
    # Without a path of its own, the part is named by its place in the canonical request.
    with pytest.raises(GatewayError) as raised:
        to_gemini(ChatRequest(messages=[_user(Text("a"), Opaque("openai", {}))]), "m")
    assert raised.value.param == "messages[0].content[1].type"
    server_tool = Opaque("anthropic", {"type": "web_search_20250305"}, "tools[1]")
    with pytest.raises(GatewayError) as raised:
        to_gemini(ChatRequest(messages=[_user(Text("a"))], tools=(WEATHER, server_tool)), "m")
    assert raised.value.param == "tools[1]"

    own_part = Opaque("gemini", {"videoMetadata": {"startOffset": "1s"}})
    own_tool = Opaque("gemini", {"googleSearch": {}})
    sent = to_gemini(
        ChatRequest(messages=[_user(Text("a"), own_part)], tools=(WEATHER, own_tool)), "m"
    )
    assert sent["contents"][0]["parts"][1] == {"videoMetadata": {"startOffset": "1s"}}
    assert sent["tools"][1] == {"googleSearch": {}}
    assert sent["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"


def test_text_only_places_name_the_part() -> None:
    image = Image(media=Media(media_type="image/png", data=PNG))
    system = Message("system", (Text("a"), image))
    with pytest.raises(GatewayError) as raised:
        to_gemini(ChatRequest(messages=[system, _user(Text("b"))]), "m")
    assert raised.value.param == "messages[0].content[1]"


async def test_a_tool_results_images_follow_its_function_response(simulator_url: str) -> None:
    # A function response holds JSON only (Claude Code's Read tool answers with an image).
    image = Image(media=Media(media_type="image/png", data=PNG))
    calls = Message("assistant", (ToolCall(id="c1", name="get_weather", arguments="{}"),))
    result = Message("tool", (ToolResult(call_id="c1", parts=(Text("ok"), image)),))
    request = ChatRequest(messages=[_user(Text("a")), calls, result], max_output_tokens=4000)
    response = await _complete(simulator_url, request)
    assert response.text()
    assert _sent(simulator_url)["contents"][-1] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"output": "ok"}}},
            {"text": "Attachments of the result of tool call get_weather:"},
            {"inlineData": {"mimeType": "image/png", "data": PNG}},
        ],
    }


def test_tool_calls_are_counted_after_the_content_parts() -> None:
    turn = Message(
        "assistant",
        (
            Text("Let me check."),
            ToolCall(id="c1", name="get_weather", arguments='{"city": "Oslo"}'),
            ToolCall(id="c2", name="get_weather", arguments="[1]"),
        ),
    )
    with pytest.raises(GatewayError) as raised:
        to_gemini(ChatRequest(messages=[_user(Text("a")), turn]), "m")
    assert raised.value.param == "messages[1].tool_calls[1].function.arguments"
    nameless = Message("assistant", (Text("x"), ToolCall(id="c", name="", arguments="")))
    with pytest.raises(GatewayError) as raised:
        to_gemini(ChatRequest(messages=[_user(Text("a")), nameless]), "m")
    assert raised.value.param == "messages[1].tool_calls[0].function.name"


def test_thinking_is_left_out_and_gemini_signatures_travel_in_call_ids() -> None:
    own_call = call_id("r", 0, SIGNATURE)
    turn = Message(
        "assistant",
        (
            Thinking(text="Claude's reasoning", signature="EqQBCkYIB..."),
            Thinking(text="", signature="opaque", redacted=True),
            Text("Checking."),
            Refusal("not that part"),
            ToolCall(id=own_call, name="get_weather", arguments='{"city": "Oslo"}'),
        ),
    )
    result = Message("tool", (ToolResult(call_id=own_call, parts=(Text("sunny"),)),))
    sent = to_gemini(
        ChatRequest(messages=[_user(Text("weather?")), turn, result]), "gemini-3-pro-preview"
    )
    assert sent["contents"][1] == {
        "role": "model",
        "parts": [
            {"text": "Checking.\nnot that part"},
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Oslo"}},
                "thoughtSignature": SIGNATURE,
            },
        ],
    }
    assert "reasoning" not in json.dumps(sent)
    assert sent["contents"][2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}}}
    ]


def test_tool_results_marked_as_errors_and_several_in_one_message() -> None:
    calls = Message(
        "assistant",
        (
            ToolCall(id="toolu_a", name="first", arguments=""),
            ToolCall(id="toolu_b", name="second", arguments="{}"),
        ),
    )
    results = Message(
        "tool",
        (
            ToolResult(call_id="toolu_b", parts=(Text('{"x": 1}'),)),
            ToolResult(call_id="toolu_a", parts=(Text("no such city"),), is_error=True),
        ),
    )
    sent = to_gemini(ChatRequest(messages=[_user(Text("go")), calls, results]), "gemini-3-flash")
    model_turn, answers = sent["contents"][1]["parts"], sent["contents"][2]["parts"]
    # A foreign call (no signature of Gemini's) gets the documented placeholder on Gemini 3.
    assert model_turn[0]["thoughtSignature"] == "skip_thought_signature_validator"
    assert model_turn[0]["functionCall"] == {"name": "first", "args": {}}
    assert answers == [
        {"functionResponse": {"name": "second", "response": {"x": 1}}},
        {"functionResponse": {"name": "first", "response": {"error": "no such city"}}},
    ]


@pytest.mark.parametrize(
    ("reasoning", "model", "budget"),
    [
        (Reasoning(budget=2048), "gemini-2.5-flash", 2048),
        (Reasoning(effort="high"), "gemini-2.5-flash", 24576),
        (Reasoning(effort="none"), "gemini-2.5-pro", 128),
        (Reasoning(budget=0), "gemini-2.5-pro", 128),
        (Reasoning(budget=2048), "gemini-2.0-flash", None),
    ],
)
def test_reasoning_sets_the_thinking_budget(
    reasoning: Reasoning, model: str, budget: int | None
) -> None:
    config = to_gemini(ChatRequest(messages=[_user(Text("a"))], reasoning=reasoning), model).get(
        "generationConfig", {}
    )
    expected = None if budget is None else {"thinkingBudget": budget}
    assert config.get("thinkingConfig") == expected


async def test_a_typed_agent_loop_on_gemini_3(simulator_url: str) -> None:
    """The simulator checks thought signatures as Gemini 3 does: the call it made must come
    back with its signature, which the typed history carries in the call id."""
    model = "gemini-3-pro-preview"
    question = _user(Text("What is the weather in Oslo?"))
    ask = ChatRequest(messages=[question], tools=(WEATHER,), tool_choice=ToolChoice("required"))
    chunks = await _stream(simulator_url, ask, model)
    deltas = [d for c in chunks for d in c.deltas]
    [start] = [d for d in deltas if isinstance(d, ToolCallStart)]
    [arguments] = [d for d in deltas if isinstance(d, ToolArgumentsDelta)]
    assert (start.index, start.name, arguments.index) == (0, "get_weather", 0)
    assert signature_of(start.id) is not None
    assert deltas[-1] == Finish("tool_calls")
    assert _sent(simulator_url)["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}

    call = ToolCall(id=start.id, name=start.name, arguments=arguments.fragment)
    follow_up = ChatRequest(
        messages=[
            question,
            Message("assistant", (call,)),
            Message("tool", (ToolResult(call_id=start.id, parts=(Text("12 C, rain"),)),)),
        ],
        tools=(WEATHER,),
    )
    answer = await _complete(simulator_url, follow_up, model)
    assert answer.finish_reason == "stop" and answer.text()
    sent = _sent(simulator_url)["contents"]
    assert sent[1]["parts"][0]["thoughtSignature"] == signature_of(start.id)
