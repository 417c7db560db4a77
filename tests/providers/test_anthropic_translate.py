"""Canonical request → Anthropic Messages request: the decisions the recordings do not cover
(requests written as the OpenAI bodies they stand for)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from routeplex_gateway.canonical import (
    CacheMark,
    ChatRequest,
    Deployment,
    Document,
    Image,
    Media,
    Message,
    Opaque,
    Reasoning,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolResult,
)
from routeplex_gateway.errors import GatewayError
from routeplex_gateway.providers.anthropic_translate import ANSWER_TOOL, to_anthropic
from tests.support.chat import openai_request

TOOL = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
}
USER = {"role": "user", "content": "hi"}


def _sent(
    body: dict[str, Any], model: str = "claude-sonnet-4-20250514", cap: int | None = 64000
) -> dict[str, Any]:
    deployment = Deployment(
        provider="anthropic",
        kind="anthropic",
        base_url="http://x",
        api_key="k",
        upstream_model=model,
        max_output_tokens=cap,
    )
    request = openai_request({"messages": [USER], **body})
    return to_anthropic(request, deployment, stream=False).body


def test_max_tokens_defaults_to_the_models_cap() -> None:
    assert _sent({})["max_tokens"] == 64000
    assert _sent({"max_completion_tokens": 10, "max_tokens": 20})["max_tokens"] == 10
    assert _sent({}, cap=None)["max_tokens"] == 4096


def test_only_leading_system_messages_are_the_system_prompt() -> None:
    sent = _sent(
        {
            "messages": [
                {"role": "system", "content": "one"},
                USER,
                {"role": "developer", "content": [{"type": "text", "text": "two"}]},
                {"role": "user", "content": "again"},
            ]
        }
    )
    assert sent["system"] == "one"
    # The later one stays where it stood, as marked user text between the two user texts.
    assert sent["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "text", "text": "<system_instruction>\ntwo\n</system_instruction>"},
                {"type": "text", "text": "again"},
            ],
        }
    ]


def test_cache_control_is_passed_through() -> None:
    mark = {"type": "ephemeral"}
    sent = _sent(
        {
            "messages": [
                {
                    "role": "system",
                    "content": [{"type": "text", "text": "s", "cache_control": mark}],
                },
                {"role": "user", "content": [{"type": "text", "text": "u", "cache_control": mark}]},
            ]
        }
    )
    assert sent["system"] == [{"type": "text", "text": "s", "cache_control": mark}]
    assert sent["messages"][0]["content"][0]["cache_control"] == mark


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (
            {"type": "function", "function": {"name": "lookup"}},
            None,
            {"type": "tool", "name": "lookup"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    ],
)
def test_tool_choice(choice: Any, parallel: Any, expected: dict[str, Any]) -> None:
    body: dict[str, Any] = {"tools": [TOOL]}
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    assert _sent(body)["tool_choice"] == expected


def test_tool_choice_without_tools_is_dropped() -> None:
    assert "tool_choice" not in _sent({"tool_choice": "auto"})


def test_images_and_documents() -> None:
    sent = _sent(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "https://x/y.jpg"}},
                        {"type": "image_url", "image_url": {"url": "data:image/webp;base64,AAAA"}},
                        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE"}},
                    ],
                }
            ]
        }
    )
    assert sent["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "url", "url": "https://x/y.jpg"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/webp", "data": "AAAA"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
        },
    ]


def test_audio_is_refused_with_a_validation_error() -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    with pytest.raises(GatewayError) as raised:
        _sent({"messages": [{"role": "user", "content": [audio]}]})
    assert raised.value.status == 400 and raised.value.param == "messages[0].content[0].type"
    assert "input_audio" not in raised.value.message  # names the allowed types, not the sent one


def test_json_schema_is_a_forced_answer_tool() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    sent = _sent(
        {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}}
    )
    assert sent["tool_choice"] == {"type": "tool", "name": ANSWER_TOOL}
    assert [t["input_schema"] for t in sent["tools"]] == [schema]
    assert "system" not in sent
    mode = _sent({"response_format": {"type": "json_object"}})
    assert mode["tools"][0]["input_schema"] == {"type": "object"}


def test_json_with_caller_tools_is_a_system_instruction() -> None:
    sent = _sent({"tools": [TOOL], "response_format": {"type": "json_object"}})
    assert [t["name"] for t in sent["tools"]] == ["lookup"]
    assert "JSON object" in sent["system"]
    array = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "array"}}}
    assert '"type":"array"' in _sent({"response_format": array})["system"]


def test_sampling_fields() -> None:
    sent = _sent(
        {"temperature": 1.7, "top_p": 0.5, "stop": ["END", "\n\n"], "user": "u-1", "seed": 3}
    )
    assert sent["temperature"] == 1.0  # Anthropic's range ends at 1
    assert sent["top_p"] == 0.5
    assert sent["stop_sequences"] == ["END"]  # whitespace-only sequences are refused upstream
    assert sent["metadata"] == {"user_id": "u-1"}
    assert "seed" not in sent


def test_reasoning_effort_turns_on_thinking_where_allowed() -> None:
    assert _sent({"reasoning_effort": "medium"})["thinking"] == {
        "type": "enabled",
        "budget_tokens": 4096,
    }
    thinking = _sent(
        {"reasoning_effort": "high", "max_tokens": 2000, "temperature": 0.2, "top_p": 0.5}
    )
    assert thinking["thinking"] == {"type": "enabled", "budget_tokens": 1999}
    assert "temperature" not in thinking and "top_p" not in thinking
    assert "thinking" not in _sent({"reasoning_effort": "low"}, model="claude-3-5-haiku-20241022")
    assert "thinking" not in _sent({"reasoning_effort": "low", "max_tokens": 1024})
    forced = {"reasoning_effort": "low", "tools": [TOOL], "tool_choice": "required"}
    assert "thinking" not in _sent(forced)
    loop = [
        USER,
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "x"},
    ]
    assert "thinking" not in _sent({"reasoning_effort": "low", "messages": loop, "tools": [TOOL]})


def test_bad_tool_call_arguments_are_a_validation_error() -> None:
    messages = [
        USER,
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "[1]"}}
            ],
        },
    ]
    with pytest.raises(GatewayError) as raised:
        _sent({"messages": messages})
    assert raised.value.param == "messages[1].tool_calls[0].function.arguments"


# --- what the typed shape says that an OpenAI body cannot -------------------------------------

SIGNED = "EqQBCkgIARABGAIiQL9/signed+by+anthropic=="
REDACTED = "EmwKAhgBEgy3va3pzix/"


def _deployment(model: str = "claude-sonnet-4-20250514") -> Deployment:
    return Deployment(
        provider="anthropic",
        kind="anthropic",
        base_url="http://x",
        api_key="k",
        upstream_model=model,
        max_output_tokens=64000,
    )


def _translated(request: ChatRequest) -> dict[str, Any]:
    return to_anthropic(request, _deployment(), stream=False).body


def _user(text: str) -> Message:
    return Message("user", (Text(text),))


def test_signed_thinking_goes_back_as_thinking_blocks() -> None:
    """A conversation decoded from Anthropic's Messages keeps its thinking: the signed blocks
    go back as they came, and thinking stays on inside the tool loop they open."""
    assistant = Message(
        "assistant",
        (
            Thinking(text="A lookup first.", signature=SIGNED),
            Thinking(text="", signature=REDACTED, redacted=True),
            Thinking(text="Another provider's, unsigned."),
            Text("Let me look."),
            ToolCall(id="toolu_1", name="lookup", arguments='{"q": "x"}'),
        ),
    )
    result = Message("tool", (ToolResult(call_id="toolu_1", parts=(Text("found"),)),))
    request = ChatRequest(
        messages=[_user("hi"), assistant, result],
        tools=(Tool(name="lookup"),),
        reasoning=Reasoning(effort="low"),
    )
    sent = _translated(request)
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "A lookup first.", "signature": SIGNED},
            {"type": "redacted_thinking", "data": REDACTED},
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}},
        ],
    }
    assert sent["messages"][2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "found"}],
    }
    # The assistant turn starts with its thinking: Anthropic accepts thinking on here.
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    unsigned = replace(assistant, parts=assistant.parts[2:])
    loop = replace(request, messages=[_user("hi"), unsigned, result])
    assert "thinking" not in _translated(loop)


def test_reasoning_budget_and_effort_none() -> None:
    hello = [_user("hi")]
    budget = _translated(ChatRequest(messages=hello, reasoning=Reasoning(budget=3000)))
    assert budget["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    off = ChatRequest(messages=hello, reasoning=Reasoning(effort="none", budget=3000))
    assert "thinking" not in _translated(off)
    assert "thinking" not in _translated(ChatRequest(messages=hello, reasoning=Reasoning()))


def test_cache_marks_are_cache_control_wherever_they_stand() -> None:
    five, hour = CacheMark(), CacheMark("1h")
    image = Image(media=Media(media_type="image/png", data="AAAA"), cache=five)
    request = ChatRequest(
        messages=[
            Message("system", (Text("rules", five),)),
            Message("user", (Text("look", hour), image)),
            Message(
                "assistant",
                (ToolCall(id="t1", name="lookup", arguments="", cache=five),),
            ),
            Message("tool", (ToolResult(call_id="t1", parts=(Text("x"),), cache=hour),)),
        ],
        tools=(Tool(name="lookup", cache=hour),),
    )
    sent = _translated(request)
    ephemeral, long_lived = {"type": "ephemeral"}, {"type": "ephemeral", "ttl": "1h"}
    assert sent["system"] == [{"type": "text", "text": "rules", "cache_control": ephemeral}]
    user, assistant, results = sent["messages"]
    assert [b["cache_control"] for b in user["content"]] == [long_lived, ephemeral]
    assert assistant["content"][0]["cache_control"] == ephemeral
    assert assistant["content"][0]["input"] == {}
    assert results["content"][0]["cache_control"] == long_lived
    assert sent["tools"][0]["cache_control"] == long_lived


def test_anthropic_parts_and_tools_pass_and_others_are_refused() -> None:
    search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}
    block = {"type": "search_result", "source": "s", "title": "t", "content": []}
    request = ChatRequest(
        messages=[Message("user", (Opaque("anthropic", block, "messages[0].content[0]"),))],
        tools=(Opaque("anthropic", search, "tools[0]"),),
    )
    sent = _translated(request)
    assert sent["messages"][0]["content"] == [block]
    assert sent["tools"] == [search]
    foreign = Opaque("openai", {"type": "file", "file": {"file_id": "f"}}, "messages[0].content[0]")
    with pytest.raises(GatewayError) as raised:
        _translated(ChatRequest(messages=[Message("user", (foreign,))]))
    assert raised.value.status == 400 and raised.value.param == "messages[0].content[0].type"
    other_tool = Opaque("openai", {"type": "custom"}, "tools[0]")
    with pytest.raises(GatewayError) as raised:
        _translated(ChatRequest(messages=[_user("hi")], tools=(other_tool,)))
    assert raised.value.param == "tools[0]"


def test_documents_by_url_and_tool_call_paths_count_calls() -> None:
    pdf = Document(media=Media(media_type=None, url="https://x/a.pdf"), title="A")
    sent = _translated(ChatRequest(messages=[Message("user", (pdf,))]))
    assert sent["messages"][0]["content"] == [
        {"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}, "title": "A"}
    ]
    # The second call's bad arguments are named by its place among the calls.
    messages = [
        USER,
        {
            "role": "assistant",
            "content": "two calls",
            "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "b", "type": "function", "function": {"name": "f", "arguments": "1"}},
            ],
        },
    ]
    with pytest.raises(GatewayError) as raised:
        _sent({"messages": messages})
    assert raised.value.param == "messages[1].tool_calls[1].function.arguments"


def test_top_p_is_dropped_beside_temperature_where_the_model_refuses_the_pair() -> None:
    deployment = replace(_deployment("claude-haiku-4-5"), temperature_with_top_p=False)
    both = openai_request({"messages": [USER], "temperature": 0.5, "top_p": 0.9, "top_k": 5})
    sent = to_anthropic(both, deployment, stream=False).body
    assert (sent["temperature"], "top_p" in sent, sent["top_k"]) == (0.5, False, 5)
    alone = openai_request({"messages": [USER], "top_p": 0.9})
    assert to_anthropic(alone, deployment, stream=False).body["top_p"] == 0.9
    assert "top_p" in _sent({"temperature": 0.5, "top_p": 0.9})  # the pair, where allowed
