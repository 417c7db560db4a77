"""The canonical request as the OpenAI provider sends it: the caller's own OpenAI body
forwarded (model, stream and cap set), any other request encoded from its typed parts."""

from __future__ import annotations

from typing import Any

import pytest

from routeplex_gateway.canonical import (
    Audio,
    CacheMark,
    ChatRequest,
    Deployment,
    Document,
    Image,
    Media,
    Message,
    Opaque,
    Reasoning,
    Refusal,
    ResponseFormat,
    Sampling,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
)
from routeplex_gateway.errors import ErrorCode, GatewayError
from routeplex_gateway.providers.openai_translate import TOOL_ERROR_LINE, request_body
from tests.support.chat import openai_request
from tests.support.openai_schema import assert_valid


def _deployment(provider: str = "openai", **fields: Any) -> Deployment:
    return Deployment(
        **{
            "provider": provider,
            "kind": "openai",
            "base_url": "http://x",
            "api_key": "k",
            "upstream_model": "gpt-5-mini",  # a model that reasons
            **fields,
        }
    )


def _send(request: ChatRequest, provider: str = "openai", stream: bool = False) -> dict[str, Any]:
    return request_body(request, _deployment(provider), stream=stream)


PNG = Media(media_type="image/png", data="iVBORw0KGgo=")
PDF = Media(media_type="application/pdf", data="JVBERi0x")
WAV = Media(media_type="audio/wav", data="UklGRg==")


def test_every_part_kind_from_the_typed_shape() -> None:
    """A conversation as another surface (Anthropic's) decodes it: images, audio, a PDF, cache
    marks, thinking with its signature, tool calls and results with attachments."""
    mark = CacheMark("1h")
    request = ChatRequest(
        messages=[
            Message("system", (Text("Be brief.", mark), Text("Use plain words."))),
            Message(
                "user",
                (
                    Text("Look:", mark),
                    Image(media=PNG, detail="low", cache=mark),
                    Image(media=Media(media_type=None, url="https://example.com/cat.png")),
                    Audio(media=WAV),
                    Document(media=PDF, filename="report.pdf", cache=mark),
                ),
                name="ann",
            ),
            Message(
                "assistant",
                (
                    Thinking(text="the user wants…", signature="sig"),
                    Text("Let me check. "),
                    Text("One moment."),
                    ToolCall(id="call_1", name="lookup", arguments='{"q": "cat"}', cache=mark),
                    ToolCall(id="call_2", name="ping", arguments=""),
                ),
            ),
            Message(
                "tool",
                (
                    ToolResult(
                        call_id="call_1",
                        parts=(Text("line 1"), Text("line 2"), Image(media=PNG)),
                        is_error=True,
                        cache=mark,
                    ),
                    ToolResult(call_id="call_2", parts=()),
                ),
            ),
            Message("user", (Text("and?"),)),
            Message("assistant", (Thinking(text="", signature="opaque", redacted=True),)),
        ],
        max_output_tokens=100,
    )
    body = _send(request)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief.\n\nUse plain words."},
        {
            "role": "user",
            "name": "ann",
            "content": [
                {"type": "text", "text": "Look:"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
                },
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                {
                    "type": "file",
                    "file": {
                        "filename": "report.pdf",
                        "file_data": "data:application/pdf;base64,JVBERi0x",
                    },
                },
            ],
        },
        {
            # Thinking is left out (only its provider reads the signature); texts joined.
            "role": "assistant",
            "content": "Let me check. One moment.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "cat"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "ping", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": f"{TOOL_ERROR_LINE}\nline 1\nline 2"},
        {"role": "tool", "tool_call_id": "call_2", "content": ""},
        {
            # A tool message holds only text: the result's image opens the next user turn.
            "role": "user",
            "content": [
                {"type": "text", "text": "Attachments of the result of tool call call_1:"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "text", "text": "and?"},
            ],
        },
        # The last assistant turn held only (redacted) thinking: nothing to send.
    ]
    assert "cache_control" not in str(body)
    assert body["max_completion_tokens"] == 100 and "max_tokens" not in body
    assert_valid(body, "CreateChatCompletionRequest")


def test_attachments_without_a_following_user_turn_get_their_own() -> None:
    request = ChatRequest(
        messages=[
            Message("user", (Text("go"),)),
            Message("assistant", (ToolCall(id="c", name="f", arguments="{}"),)),
            Message("tool", (ToolResult(call_id="c", parts=(Document(media=PDF),)),)),
        ]
    )
    messages = _send(request)["messages"]
    assert messages[2] == {"role": "tool", "tool_call_id": "c", "content": ""}
    assert messages[3]["role"] == "user"
    assert messages[3]["content"][1]["file"]["filename"] == "document.pdf"


def test_tools_choice_format_reasoning_sampling() -> None:
    request = ChatRequest(
        messages=[Message("user", (Text("hi"),))],
        tools=(
            Tool(name="f", description="does f", parameters={"type": "object"}, strict=True),
            Tool(name="g", cache=CacheMark()),
        ),
        tool_choice=ToolChoice("auto", ("f", "g"), parallel=False),
        response_format=ResponseFormat(schema={"type": "object"}, name="out", strict=True),
        reasoning=Reasoning(budget=5000),
        sampling=Sampling(
            temperature=0.5,
            top_p=0.9,
            top_k=40,
            stop=("END",),
            seed=7,
            n=2,
            logprobs=True,
            top_logprobs=3,
            frequency_penalty=0.1,
            presence_penalty=0.2,
        ),
        user="end-user-1",
        prediction="expected text",
        max_output_tokens=64,
    )
    body = _send(request, provider="groq", stream=True)
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "f",
                "description": "does f",
                "parameters": {"type": "object"},
                "strict": True,
            },
        },
        {"type": "function", "function": {"name": "g"}},
    ]
    assert body["tool_choice"] == {
        "type": "allowed_tools",
        "allowed_tools": {
            "mode": "auto",
            "tools": [
                {"type": "function", "function": {"name": "f"}},
                {"type": "function", "function": {"name": "g"}},
            ],
        },
    }
    assert body["parallel_tool_calls"] is False
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True},
    }
    assert body["reasoning_effort"] == "medium"  # a 5,000-token budget
    assert (body["temperature"], body["top_p"], body["stop"], body["seed"], body["n"]) == (
        0.5,
        0.9,
        ["END"],
        7,
        2,
    )
    assert (body["logprobs"], body["top_logprobs"]) == (True, 3)
    assert (body["frequency_penalty"], body["presence_penalty"]) == (0.1, 0.2)
    assert "top_k" not in body  # OpenAI has no such field
    assert body["user"] == "end-user-1"
    assert body["prediction"] == {"type": "content", "content": "expected text"}
    # Any server but OpenAI itself gets the name every server knows.
    assert body["max_tokens"] == 64 and "max_completion_tokens" not in body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert_valid(body, "CreateChatCompletionRequest")


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        (ToolChoice("required", ("f",)), {"type": "function", "function": {"name": "f"}}),
        (ToolChoice("none", ("f",)), "none"),
        (ToolChoice("required"), "required"),
    ],
)
def test_tool_choice_forms(choice: ToolChoice, sent: Any) -> None:
    request = ChatRequest(
        messages=[Message("user", (Text("hi"),))], tools=(Tool(name="f"),), tool_choice=choice
    )
    body = _send(request)
    assert body["tool_choice"] == sent and "parallel_tool_calls" not in body


def test_no_tool_choice_without_tools_and_json_object() -> None:
    request = ChatRequest(
        messages=[Message("user", (Text("hi"),))],
        tool_choice=ToolChoice("auto", parallel=True),
        response_format=ResponseFormat(),
        reasoning=Reasoning(budget=0),
    )
    body = _send(request)
    assert "tool_choice" not in body and "parallel_tool_calls" not in body
    assert body["response_format"] == {"type": "json_object"}
    assert body["reasoning_effort"] == "none"
    assert body["messages"] == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("provider", "model", "sent"),
    [
        ("openai", "o4-mini", "high"),
        ("openai", "gpt-5", "high"),
        ("openai", "gpt-4o-mini", None),  # OpenAI refuses it for a model that does not reason
        ("openai", "gpt-4.1", None),
        ("groq", "llama-3.3-70b", "high"),  # another server decides for itself
    ],
)
def test_reasoning_goes_to_the_models_that_take_it(
    provider: str, model: str, sent: str | None
) -> None:
    request = ChatRequest(
        messages=[Message("user", (Text("hi"),))], reasoning=Reasoning(budget=20000)
    )
    body = request_body(request, _deployment(provider, upstream_model=model), stream=False)
    assert body.get("reasoning_effort") == sent


def test_temperature_alone_for_a_model_that_refuses_both() -> None:
    request = ChatRequest(
        messages=[Message("user", (Text("hi"),))],
        sampling=Sampling(temperature=0.3, top_p=0.5),
    )
    body = request_body(request, _deployment(temperature_with_top_p=False), stream=False)
    assert body["temperature"] == 0.3 and "top_p" not in body


def test_an_openai_opaque_part_or_tool_passes_as_it_came() -> None:
    file_part = {"type": "file", "file": {"file_id": "file-abc"}}
    search = {"type": "web_search_preview"}
    request = ChatRequest(
        messages=[Message("user", (Opaque("openai", file_part, "messages[0].content[0]"),))],
        tools=(Opaque("openai", search, "tools[0]"),),
    )
    body = _send(request)
    assert body["messages"][0]["content"] == [file_part]
    assert body["tools"] == [search]


@pytest.mark.parametrize(
    ("request_", "param"),
    [
        (
            ChatRequest(
                messages=[
                    Message("user", (Text("x"),)),
                    Message(
                        "assistant",
                        (
                            Opaque(
                                "anthropic", {"type": "server_tool_use"}, "messages[1].content[0]"
                            ),
                        ),
                    ),
                ]
            ),
            "messages[1].content[0].type",
        ),
        (
            ChatRequest(
                messages=[Message("user", (Opaque("gemini", {"secret": "value"}),))],
            ),
            "messages[0].content[0].type",
        ),
        (
            ChatRequest(
                messages=[Message("user", (Text("x"),))],
                tools=(Tool(name="f"), Opaque("anthropic", {"type": "web_search_20250305"})),
            ),
            "tools[1]",
        ),
    ],
)
def test_another_wires_opaque_part_or_tool_is_the_callers_400(
    request_: ChatRequest, param: str
) -> None:
    with pytest.raises(GatewayError) as raised:
        _send(request_)
    error = raised.value
    assert error.code is ErrorCode.VALIDATION_ERROR and error.status == 400
    assert error.param == param and param in error.message
    assert "secret" not in error.message and "server_tool_use" not in error.message


def test_media_openai_cannot_take_by_url_is_refused_by_field() -> None:
    request = ChatRequest(
        messages=[
            Message("user", (Text("x"), Document(media=Media(media_type=None, url="https://a/b"))))
        ]
    )
    with pytest.raises(GatewayError) as raised:
        _send(request)
    assert raised.value.param == "messages[0].content[1]"
    assert "https://a/b" not in raised.value.message


def test_refusal_in_history_is_the_assistants_refusal() -> None:
    request = ChatRequest(
        messages=[Message("user", (Text("x"),)), Message("assistant", (Refusal("I can't."),))]
    )
    assert _send(request)["messages"][1] == {
        "role": "assistant",
        "content": None,
        "refusal": "I can't.",
    }


# --- the caller's own OpenAI body -------------------------------------------------------------

BODY: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "x_extra": 1}]}],
    "stream_options": {"include_obfuscation": False},
    "metadata": {"k": "v"},
}


def test_an_openai_body_is_forwarded_with_every_field() -> None:
    request = openai_request(BODY, native=True)
    sent = _send(request, stream=True)
    assert sent == {
        **BODY,
        "model": "gpt-5-mini",
        "stream": True,
        "stream_options": {"include_obfuscation": False, "include_usage": True},
    }
    assert BODY["stream_options"] == {"include_obfuscation": False}  # the caller's, untouched
    complete = _send(request)
    assert "stream_options" not in complete and complete["stream"] is False


def test_the_cap_the_gateway_added_is_max_completion_tokens_for_openai_only() -> None:
    request = openai_request(BODY, native=True)
    request.max_output_tokens, request.output_cap_added = 300, True
    assert _send(request)["max_completion_tokens"] == 300
    assert "max_tokens" not in _send(request)
    compatible = _send(request, provider="groq")
    assert compatible["max_tokens"] == 300 and "max_completion_tokens" not in compatible


@pytest.mark.parametrize("name", ["max_tokens", "max_completion_tokens"])
def test_a_lowered_cap_replaces_the_callers_and_a_higher_one_does_not(name: str) -> None:
    request = openai_request({**BODY, name: 1000}, native=True)
    request.max_output_tokens = 800  # lowered to the model's maximum
    assert _send(request)[name] == 800
    request.max_output_tokens = 1000
    assert _send(request)[name] == 1000


def test_an_empty_turn_is_empty_text_not_an_empty_array() -> None:
    request = ChatRequest(messages=[Message("system", ()), Message("user", ())])
    assert _send(request)["messages"] == [
        {"role": "system", "content": ""},
        {"role": "user", "content": ""},
    ]
