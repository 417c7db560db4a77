"""Anthropic Messages requests → the canonical OpenAI-shaped body (`api.anthropic_decode`):
every content block type, every translated field, and what is dropped (what cannot be
carried, and the refusals, are in test_anthropic_refusals.py). Every decoded body is also
checked against OpenAI's own request schema, and the recorded Anthropic requests are decoded
and translated back by the Anthropic provider to what was sent."""

from __future__ import annotations

from typing import Any

import pytest

from routeplex_gateway.api.anthropic_content import TOOL_ERROR_LINE
from routeplex_gateway.api.anthropic_decode import DecodedMessages, decode
from routeplex_gateway.canonical import Deployment
from routeplex_gateway.providers.anthropic_translate import _THINKING_BUDGET, to_anthropic
from tests.support.cassettes import load
from tests.support.openai_schema import assert_valid

PNG = "iVBORw0KGgo="


def _body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-4o",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "hello"}],
    }
    body.update(fields)
    return body


def _decode(body: dict[str, Any]) -> DecodedMessages:
    decoded = decode(body)
    assert_valid(decoded.openai_body, "CreateChatCompletionRequest")
    return decoded


def _user(*blocks: dict[str, Any]) -> DecodedMessages:
    return _decode(_body(messages=[{"role": "user", "content": list(blocks)}]))


# --- a whole request ------------------------------------------------------------------------


def test_agent_request_is_translated_whole() -> None:
    body = _body(
        stream=True,
        system=[
            {
                "type": "text",
                "text": "You are a coding agent.",
                "cache_control": {"type": "ephemeral"},
            },
            {"type": "text", "text": "Be brief."},
        ],
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "Read a.py"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "I should read it.", "signature": "c2ln"},
                    {"type": "text", "text": "Reading."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "Read",
                        "input": {"path": "a.py"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "print(1)"},
                    {"type": "text", "text": "Now explain it."},
                ],
            },
        ],
        tools=[
            {
                "name": "Read",
                "description": "Read a file",
                "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
            }
        ],
        tool_choice={"type": "auto"},
        thinking={"type": "enabled", "budget_tokens": 4096},
        metadata={"user_id": "user-1"},
        temperature=1,
    )
    decoded = _decode(body)
    assert decoded.openai_body == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are a coding agent.\n\nBe brief."},
            {"role": "user", "content": [{"type": "text", "text": "Read a.py"}]},
            {
                "role": "assistant",
                "content": "Reading.",
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "Read", "arguments": '{"path":"a.py"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "print(1)"},
            {"role": "user", "content": [{"type": "text", "text": "Now explain it."}]},
        ],
        "max_tokens": 256,
        "temperature": 1,
        "user": "user-1",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "Read",
                    "description": "Read a file",
                    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
                },
            }
        ],
        "tool_choice": "auto",
        "reasoning_effort": "medium",
        "stream": True,
    }
    assert (decoded.model, decoded.stream) == ("gpt-4o", True)
    assert decoded.chat.body is decoded.openai_body
    assert (decoded.chat.stream, decoded.chat.max_output_tokens) == (True, 256)
    assert decoded.untranslatable == []
    assert sorted(decoded.dropped) == ["cache_control", "thinking blocks"]


def _deployment(model: str) -> Deployment:
    return Deployment(
        provider="anthropic",
        kind="anthropic",
        base_url="http://unused",
        api_key="sk-ant-test",
        upstream_model=model,
        max_output_tokens=8192,
    )


RECORDED = [
    ("anthropic/messages_nonstream_basic.yaml", 0),
    ("anthropic/messages_nonstream_tool_use.yaml", 0),
    ("anthropic/messages_nonstream_tool_use.yaml", 1),
    ("anthropic/messages_nonstream_prompt_cache_tokens.yaml", 0),
    ("anthropic/messages_nonstream_prompt_cache_tokens.yaml", 1),
    ("anthropic/messages_stream_text_minimal.yaml", 0),
    ("anthropic/messages_stream_text_raw_headers_ratelimit.yaml", 0),
    ("anthropic/messages_stream_parallel_tool_use_then_text.yaml", 0),
    ("anthropic/messages_stream_parallel_tool_use_then_text.yaml", 1),
    ("anthropic/messages_stream_extended_thinking.yaml", 0),
]


@pytest.mark.parametrize(("cassette", "turn"), RECORDED)
def test_recorded_request_translates_back_to_what_was_sent(cassette: str, turn: int) -> None:
    """Decoded, then translated by the Anthropic provider: the conversation, tools, tool
    choice, system prompt, limits and thinking budget that were sent (prompt-caching marks
    and `is_error: false` aside: the canonical body has no place for them)."""
    sent = load(cassette)[turn].request
    decoded = _decode(sent)
    again = to_anthropic(decoded.openai_body, _deployment(sent["model"]), stream=decoded.stream)
    expected = _without_cache_control(sent)
    expected.pop("cache_control", None)
    for name in ("messages", "system", "tools", "tool_choice", "max_tokens", "stream", "thinking"):
        assert again.body.get(name) == expected.get(name), name
    assert again.body.get("temperature") == (
        None if "thinking" in sent else sent.get("temperature")
    )
    assert decoded.untranslatable == []


def _without_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_cache_control(v)
            for k, v in value.items()
            if k != "cache_control" and (k, v) != ("is_error", False)
        }
    if isinstance(value, list):
        return [_without_cache_control(item) for item in value]
    return value


# --- content blocks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "parts"),
    [
        ({"type": "text", "text": "hi"}, [{"type": "text", "text": "hi"}]),
        (
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}],
        ),
        (
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}],
        ),
        (
            {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
            },
            [
                {
                    "type": "file",
                    "file": {
                        "filename": "document.pdf",
                        "file_data": "data:application/pdf;base64,JVBERi0=",
                    },
                }
            ],
        ),
        (
            {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": "plain words"},
            },
            [{"type": "text", "text": "plain words"}],
        ),
        (
            {"type": "document", "source": {"type": "content", "content": "inline"}},
            [{"type": "text", "text": "inline"}],
        ),
        (
            {
                "type": "document",
                "source": {
                    "type": "content",
                    "content": [
                        {"type": "text", "text": "page"},
                        {"type": "image", "source": {"type": "url", "url": "https://e.com/p.png"}},
                    ],
                },
            },
            [
                {"type": "text", "text": "page"},
                {"type": "image_url", "image_url": {"url": "https://e.com/p.png"}},
            ],
        ),
        (
            {
                "type": "search_result",
                "title": "Docs",
                "source": "https://e.com/docs",
                "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
            },
            [
                {
                    "type": "text",
                    "text": "Search result: Docs\nSource: https://e.com/docs\n\none\n\ntwo",
                }
            ],
        ),
    ],
)
def test_user_block(block: dict[str, Any], parts: list[dict[str, Any]]) -> None:
    decoded = _user(block)
    assert decoded.openai_body["messages"] == [{"role": "user", "content": parts}]
    assert decoded.untranslatable == []


def test_user_string_content_stays_a_string() -> None:
    assert _decode(_body()).openai_body["messages"] == [{"role": "user", "content": "hello"}]


def _tool_turn(*results: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": f"toolu_{i}", "name": "f", "input": {}}
                for i in range(len(results))
            ],
        },
        {"role": "user", "content": list(results)},
    ]


def test_tool_results_come_first_then_the_rest_of_the_turn() -> None:
    messages = _tool_turn(
        {"type": "tool_result", "tool_use_id": "toolu_0", "content": "a"},
        {"type": "tool_result", "tool_use_id": "toolu_1"},
    )
    messages[2]["content"].insert(1, {"type": "text", "text": "between"})
    out = _decode(_body(messages=messages)).openai_body["messages"]
    assert out[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": f"toolu_{i}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            for i in range(2)
        ],
    }
    assert out[2:] == [
        {"role": "tool", "tool_call_id": "toolu_0", "content": "a"},
        {"role": "tool", "tool_call_id": "toolu_1", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": "between"}]},
    ]


def test_tool_result_blocks_error_and_attachments() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://e.com/shot.png"}}
    result = {
        "type": "tool_result",
        "tool_use_id": "toolu_0",
        "is_error": True,
        "content": [{"type": "text", "text": "line 1"}, image, {"type": "text", "text": "line 2"}],
    }
    out = _decode(_body(messages=_tool_turn(result))).openai_body["messages"]
    assert out[2:] == [
        {
            "role": "tool",
            "tool_call_id": "toolu_0",
            "content": f"{TOOL_ERROR_LINE}\nline 1\nline 2",
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Attachments of the result of tool call toolu_0:"},
                {"type": "image_url", "image_url": {"url": "https://e.com/shot.png"}},
            ],
        },
    ]


def test_empty_error_result_still_says_so() -> None:
    result = {"type": "tool_result", "tool_use_id": "toolu_0", "content": [], "is_error": True}
    out = _decode(_body(messages=_tool_turn(result))).openai_body["messages"]
    assert out[2] == {"role": "tool", "tool_call_id": "toolu_0", "content": TOOL_ERROR_LINE}


def test_assistant_blocks() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": [
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Hello "},
                {"type": "text", "text": "there."},
            ],
        },
        {"role": "user", "content": "and?"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}]},
        {"role": "user", "content": "so?"},
        {"role": "assistant", "content": "Prefilled"},
    ]
    decoded = _decode(_body(messages=messages))
    assert decoded.openai_body["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello there."},
        {"role": "user", "content": "and?"},
        # a turn of thinking only has nothing another model can read
        {"role": "user", "content": "so?"},
        {"role": "assistant", "content": "Prefilled"},
    ]
    assert decoded.dropped == ["thinking blocks"]


def test_tool_input_is_json_text() -> None:
    call = {"type": "tool_use", "id": "t", "name": "f", "input": {"a": [1, "é", None]}}
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]},
    ]
    out = _decode(_body(messages=messages)).openai_body["messages"]
    assert out[1]["tool_calls"][0]["function"]["arguments"] == '{"a":[1,"é",null]}'


# --- request fields -------------------------------------------------------------------------


def _tool(name: str = "f") -> dict[str, Any]:
    return {"name": name, "input_schema": {"type": "object", "properties": {}}}


@pytest.mark.parametrize(
    ("choice", "fields"),
    [
        ({"type": "auto"}, {"tool_choice": "auto"}),
        ({"type": "any"}, {"tool_choice": "required"}),
        ({"type": "none"}, {"tool_choice": "none"}),
        (
            {"type": "tool", "name": "f"},
            {"tool_choice": {"type": "function", "function": {"name": "f"}}},
        ),
        (
            {"type": "any", "disable_parallel_tool_use": True},
            {"tool_choice": "required", "parallel_tool_calls": False},
        ),
        ({"type": "auto", "disable_parallel_tool_use": False}, {"tool_choice": "auto"}),
    ],
)
def test_tool_choice(choice: dict[str, Any], fields: dict[str, Any]) -> None:
    out = _decode(_body(tools=[_tool()], tool_choice=choice)).openai_body
    assert {k: out[k] for k in ("tool_choice", "parallel_tool_calls") if k in out} == fields


def test_tool_choice_without_tools_is_left_out() -> None:
    out = _decode(_body(tool_choice={"type": "any", "disable_parallel_tool_use": True})).openai_body
    assert "tool_choice" not in out and "parallel_tool_calls" not in out and "tools" not in out


def test_custom_tool_fields() -> None:
    tool = {**_tool(), "type": "custom", "description": "d", "strict": True, "input_examples": [{}]}
    decoded = _decode(_body(tools=[tool]))
    assert decoded.openai_body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "f",
                "description": "d",
                "parameters": {"type": "object", "properties": {}},
                "strict": True,
            },
        }
    ]
    assert decoded.dropped == ["input_examples"]


@pytest.mark.parametrize(
    ("fields", "effort"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "low"),
        ({"thinking": {"type": "enabled", "budget_tokens": 4095}}, "low"),
        ({"thinking": {"type": "enabled", "budget_tokens": 4096}}, "medium"),
        ({"thinking": {"type": "enabled", "budget_tokens": 16383}}, "medium"),
        ({"thinking": {"type": "enabled", "budget_tokens": 16384}}, "high"),
        ({"thinking": {"type": "enabled", "budget_tokens": 64000}}, "high"),
        ({"thinking": {"type": "adaptive"}}, "medium"),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}, "low"),
        ({"thinking": {"type": "disabled"}, "output_config": {"effort": "high"}}, None),
        ({"output_config": {"effort": "medium"}}, "medium"),
        ({"output_config": {"effort": "xhigh"}}, "high"),
        ({"output_config": {"effort": "max"}}, "high"),
        ({}, None),
    ],
)
def test_thinking_becomes_reasoning_effort(fields: dict[str, Any], effort: str | None) -> None:
    assert _decode(_body(**fields)).openai_body.get("reasoning_effort") == effort


@pytest.mark.parametrize("effort", ["low", "medium", "high"])
def test_thinking_budget_reads_back_as_the_effort_that_gives_it(effort: str) -> None:
    thinking = {"type": "enabled", "budget_tokens": _THINKING_BUDGET[effort]}
    assert _decode(_body(thinking=thinking)).openai_body["reasoning_effort"] == effort


def test_output_format_becomes_a_strict_json_schema() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    config = {"format": {"type": "json_schema", "schema": schema}}
    assert _decode(_body(output_config=config)).openai_body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema, "strict": True},
    }


def test_sampling_stop_user_and_stream() -> None:
    out = _decode(
        _body(
            temperature=0.2,
            top_p=0.9,
            stop_sequences=["END", "", "STOP"],
            metadata={"user_id": "u-7"},
            stream=False,
        )
    ).openai_body
    assert (out["temperature"], out["top_p"], out["stop"]) == (0.2, 0.9, ["END", "STOP"])
    assert (out["user"], out["stream"]) == ("u-7", False)
    minimal = _decode(_body(stream=None, metadata={"user_id": None})).openai_body
    assert minimal["stream"] is False
    assert not {"user", "stop", "temperature", "top_p", "system"} & set(minimal)


def test_dropped_fields_are_named() -> None:
    decoded = _decode(
        _body(
            top_k=40,
            service_tier="auto",
            cache_control={"type": "ephemeral"},
            context_management={"edits": []},
            speed="fast",
            inference_geo="us",
            workspace_id="w",
        )
    )
    assert sorted(decoded.dropped) == sorted(
        [
            "top_k",
            "service_tier",
            "cache_control",
            "context_management",
            "speed",
            "inference_geo",
            "workspace_id",
        ]
    )
    assert decoded.untranslatable == []
    assert "top_k" not in decoded.openai_body


def test_a_system_turn_after_the_first_message_stays_in_its_place() -> None:
    # Claude Code (2.1.3xx) sends its environment as messages[1], a system turn with blocks.
    decoded = _decode(
        _body(
            messages=[
                {"role": "user", "content": "hi"},
                {
                    "role": "system",
                    "content": [
                        {
                            "type": "text",
                            "text": "# Environment",
                            "cache_control": {"type": "ephemeral"},
                        }
                    ],
                },
                {"role": "user", "content": "go on"},
            ]
        )
    )
    roles = [m["role"] for m in decoded.openai_body["messages"]]
    assert roles == ["user", "system", "user"]
    assert decoded.openai_body["messages"][1]["content"] == "# Environment"
    assert decoded.untranslatable == []


@pytest.mark.parametrize(
    "content", ["", [], [{"type": "image", "source": {"type": "base64", "data": PNG}}]]
)
def test_a_system_turn_is_text_and_never_opens_the_conversation(content: Any) -> None:
    from routeplex_gateway.errors import GatewayError

    with pytest.raises(GatewayError) as refused:
        decode(
            _body(
                messages=[{"role": "user", "content": "hi"}, {"role": "system", "content": content}]
            )
        )
    assert refused.value.param is not None and refused.value.param.startswith("messages[1].content")
    with pytest.raises(GatewayError) as first:
        decode(
            _body(messages=[{"role": "system", "content": "x"}, {"role": "user", "content": "hi"}])
        )
    assert first.value.param == "messages[0].role" and "top-level 'system'" in first.value.message


def test_deferred_tools_are_offered_up_front_elsewhere() -> None:
    tool = {
        "name": "f",
        "description": "d",
        "input_schema": {"type": "object"},
        "defer_loading": True,
    }
    decoded = _decode(_body(tools=[tool]))
    assert decoded.untranslatable == [] and "defer_loading" in decoded.dropped
    assert decoded.openai_body["tools"][0]["function"]["name"] == "f"
