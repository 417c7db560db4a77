"""OpenAI request → Anthropic Messages request: the decisions the recordings do not cover."""

from __future__ import annotations

from typing import Any

import pytest

from routeplex_gateway.canonical import Deployment
from routeplex_gateway.errors import GatewayError
from routeplex_gateway.providers.anthropic_translate import ANSWER_TOOL, to_anthropic

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
    return to_anthropic({"messages": [USER], **body}, deployment, stream=False).body


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
