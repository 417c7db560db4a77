"""Anthropic Messages requests → the canonical request (`api.anthropic_decode`): every
content block type, every translated field, what is kept that only Anthropic reads
(thinking signatures, cache marks, server tools as `Opaque`), and what is dropped (what
cannot be carried, and the refusals, are in test_anthropic_refusals.py). The recorded
Anthropic requests are decoded and translated back by the Anthropic provider to what was
sent."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from starlette.datastructures import Headers

from routeplex_gateway.api.anthropic import CODEC
from routeplex_gateway.api.anthropic_decode import DecodedMessages, decode
from routeplex_gateway.canonical import (
    CacheMark,
    Deployment,
    Document,
    Image,
    Media,
    Message,
    NativeRequest,
    Opaque,
    Part,
    Reasoning,
    ResponseFormat,
    Sampling,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
)
from routeplex_gateway.providers.anthropic_translate import _THINKING_BUDGET, to_anthropic
from tests.support.cassettes import load

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
    assert decoded.chat.native == NativeRequest("anthropic", body)
    assert decoded.chat.native_for("anthropic") is body  # forwarded as it came
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
    chat = decoded.chat
    assert chat.messages == [
        Message(
            "system",
            (Text("You are a coding agent.", CacheMark()), Text("Be brief.")),
        ),
        Message("user", (Text("Read a.py"),)),
        Message(
            "assistant",
            (
                Thinking(text="I should read it.", signature="c2ln"),
                Text("Reading."),
                ToolCall(id="toolu_1", name="Read", arguments='{"path":"a.py"}'),
            ),
        ),
        Message("tool", (ToolResult(call_id="toolu_1", parts=(Text("print(1)"),)),)),
        Message("user", (Text("Now explain it."),)),
    ]
    assert chat.tools == (
        Tool(
            name="Read",
            description="Read a file",
            parameters={"type": "object", "properties": {"path": {"type": "string"}}},
        ),
    )
    assert chat.tool_choice == ToolChoice("auto")
    assert chat.reasoning == Reasoning(effort="medium", budget=4096)
    assert chat.sampling == Sampling(temperature=1)
    assert (chat.user, chat.response_format) == ("user-1", None)
    assert (decoded.model, decoded.stream) == ("gpt-4o", True)
    assert (chat.stream, chat.max_output_tokens) == (True, 256)
    assert decoded.untranslatable == []
    assert decoded.dropped == []  # the cache mark and the thinking block are kept


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
    """Decoded, then translated by the Anthropic provider from the typed shape (not the
    native body): the conversation, tools, tool choice, system prompt, limits and thinking
    budget that were sent (prompt-caching marks and `is_error: false` aside: whether a
    translation writes them is the provider's choice)."""
    sent = load(cassette)[turn].request
    decoded = _decode(sent)
    typed = replace(decoded.chat, native=None)
    again = to_anthropic(typed, _deployment(sent["model"]), stream=decoded.stream)
    expected = _without_cache_control(sent)
    expected.pop("cache_control", None)
    translated = _without_cache_control(again.body)
    for name in ("messages", "system", "tools", "tool_choice", "max_tokens", "stream", "thinking"):
        assert translated.get(name) == expected.get(name), name
    assert translated.get("temperature") == (
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
        ({"type": "text", "text": "hi"}, [Text("hi")]),
        (
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            [Image(media=Media(media_type="image/png", data=PNG))],
        ),
        (
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            [Image(media=Media(media_type=None, url="https://example.com/a.png"))],
        ),
        (
            {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
            },
            [Document(media=Media(media_type="application/pdf", data="JVBERi0="))],
        ),
        (
            {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": "plain words"},
            },
            [Text("plain words")],
        ),
        (
            {"type": "document", "source": {"type": "content", "content": "inline"}},
            [Text("inline")],
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
            [Text("page"), Image(media=Media(media_type=None, url="https://e.com/p.png"))],
        ),
        (
            {
                "type": "search_result",
                "title": "Docs",
                "source": "https://e.com/docs",
                "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
            },
            [Text("Search result: Docs\nSource: https://e.com/docs\n\none\n\ntwo")],
        ),
    ],
)
def test_user_block(block: dict[str, Any], parts: list[Part]) -> None:
    decoded = _user(block)
    assert decoded.chat.messages == [Message("user", tuple(parts))]
    assert decoded.untranslatable == []


def test_inline_media_reads_as_the_data_url_openai_takes() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    pdf = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
    }
    parts = _user(image, pdf).chat.messages[0].parts
    assert [p.media.data_url for p in parts if isinstance(p, Image | Document)] == [
        f"data:image/png;base64,{PNG}",
        "data:application/pdf;base64,JVBERi0=",
    ]


def test_user_string_content_is_one_text_part() -> None:
    assert _decode(_body()).chat.messages == [Message("user", (Text("hello"),))]


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
    out = _decode(_body(messages=messages)).chat.messages
    assert out[1] == Message(
        "assistant",
        tuple(ToolCall(id=f"toolu_{i}", name="f", arguments="{}") for i in range(2)),
    )
    assert out[2:] == [
        Message(
            "tool",
            (
                ToolResult(call_id="toolu_0", parts=(Text("a"),)),
                ToolResult(call_id="toolu_1", parts=()),
            ),
        ),
        Message("user", (Text("between"),)),
    ]


def test_tool_result_keeps_its_parts_and_error() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://e.com/shot.png"}}
    result = {
        "type": "tool_result",
        "tool_use_id": "toolu_0",
        "is_error": True,
        "content": [{"type": "text", "text": "line 1"}, image, {"type": "text", "text": "line 2"}],
    }
    out = _decode(_body(messages=_tool_turn(result))).chat.messages
    assert out[2:] == [
        Message(
            "tool",
            (
                ToolResult(
                    call_id="toolu_0",
                    parts=(
                        Text("line 1"),
                        Image(media=Media(media_type=None, url="https://e.com/shot.png")),
                        Text("line 2"),
                    ),
                    is_error=True,
                ),
            ),
        )
    ]


def test_empty_error_result_still_says_so() -> None:
    result = {"type": "tool_result", "tool_use_id": "toolu_0", "content": [], "is_error": True}
    out = _decode(_body(messages=_tool_turn(result))).chat.messages
    assert out[2] == Message("tool", (ToolResult(call_id="toolu_0", parts=(), is_error=True),))


def test_assistant_blocks_keep_their_order_and_thinking_its_signature() -> None:
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
    assert decoded.chat.messages == [
        Message("user", (Text("hi"),)),
        Message(
            "assistant",
            (
                Thinking(text="", signature="opaque", redacted=True),
                Text("Hello "),
                Text("there."),
            ),
        ),
        Message("user", (Text("and?"),)),
        # a turn of thinking only: other providers leave it out, Anthropic verifies it
        Message("assistant", (Thinking(text="t", signature="s"),)),
        Message("user", (Text("so?"),)),
        Message("assistant", (Text("Prefilled"),)),
    ]
    assert decoded.dropped == []


def test_tool_input_is_json_text() -> None:
    call = {"type": "tool_use", "id": "t", "name": "f", "input": {"a": [1, "é", None]}}
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]},
    ]
    out = _decode(_body(messages=messages)).chat.messages
    assert out[1].parts == (ToolCall(id="t", name="f", arguments='{"a":[1,"é",null]}'),)


def test_cache_marks_are_kept_where_they_stand() -> None:
    one_hour = {"type": "ephemeral", "ttl": "1h"}
    mark = {"type": "ephemeral"}
    image = {"type": "image", "source": {"type": "url", "url": "https://e.com/a.png"}}
    pdf = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
        "title": "Spec",
    }
    body = _body(
        system=[{"type": "text", "text": "Be brief.", "cache_control": one_hour}],
        messages=[
            {
                "role": "user",
                "content": [
                    {**image, "cache_control": mark},
                    {**pdf, "cache_control": mark},
                    {"type": "text", "text": "look", "cache_control": one_hour},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "t", "name": "f", "input": {}, "cache_control": mark}
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t",
                        "content": [{"type": "text", "text": "ok", "cache_control": mark}],
                        "cache_control": one_hour,
                    }
                ],
            },
        ],
        tools=[{**_tool(), "cache_control": one_hour}],
    )
    decoded = _decode(body)
    assert decoded.chat.messages == [
        Message("system", (Text("Be brief.", CacheMark("1h")),)),
        Message(
            "user",
            (
                Image(media=Media(media_type=None, url="https://e.com/a.png"), cache=CacheMark()),
                Document(
                    media=Media(media_type="application/pdf", data="JVBERi0="),
                    title="Spec",
                    cache=CacheMark(),
                ),
                Text("look", CacheMark("1h")),
            ),
        ),
        Message("assistant", (ToolCall(id="t", name="f", arguments="{}", cache=CacheMark()),)),
        Message(
            "tool",
            (ToolResult(call_id="t", parts=(Text("ok", CacheMark()),), cache=CacheMark("1h")),),
        ),
    ]
    assert decoded.chat.tools == (
        Tool(name="f", parameters={"type": "object", "properties": {}}, cache=CacheMark("1h")),
    )
    assert decoded.dropped == []


# --- request fields -------------------------------------------------------------------------


def _tool(name: str = "f") -> dict[str, Any]:
    return {"name": name, "input_schema": {"type": "object", "properties": {}}}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, ToolChoice("auto")),
        ({"type": "any"}, ToolChoice("required")),
        ({"type": "none"}, ToolChoice("none")),
        ({"type": "tool", "name": "f"}, ToolChoice("required", ("f",))),
        ({"type": "any", "disable_parallel_tool_use": True}, ToolChoice("required", (), False)),
        ({"type": "auto", "disable_parallel_tool_use": False}, ToolChoice("auto")),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: ToolChoice) -> None:
    assert _decode(_body(tools=[_tool()], tool_choice=choice)).chat.tool_choice == expected


def test_tool_choice_without_tools_is_left_out() -> None:
    chat = _decode(_body(tool_choice={"type": "any", "disable_parallel_tool_use": True})).chat
    assert chat.tool_choice is None and chat.tools == ()


def test_custom_tool_fields() -> None:
    tool = {**_tool(), "type": "custom", "description": "d", "strict": True, "input_examples": [{}]}
    decoded = _decode(_body(tools=[tool]))
    assert decoded.chat.tools == (
        Tool(
            name="f",
            description="d",
            parameters={"type": "object", "properties": {}},
            strict=True,
        ),
    )
    assert decoded.dropped == ["input_examples"]


def test_server_tools_and_blocks_are_opaque_in_place() -> None:
    search = {"type": "web_search_20250305", "name": "web_search"}
    call = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
    found = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}
    upload = {"type": "container_upload", "file_id": "file_2"}
    body = _body(
        tools=[_tool(), search],
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "search"}, upload]},
            {"role": "assistant", "content": [call, found, {"type": "text", "text": "Found."}]},
        ],
    )
    decoded = _decode(body)
    assert decoded.chat.tools[1] == Opaque("anthropic", search, "tools[1]")
    assert decoded.chat.messages == [
        Message("user", (Text("search"), Opaque("anthropic", upload, "messages[0].content[1]"))),
        Message(
            "assistant",
            (
                Opaque("anthropic", call, "messages[1].content[0]"),
                Opaque("anthropic", found, "messages[1].content[1]"),
                Text("Found."),
            ),
        ),
    ]
    assert decoded.untranslatable == [
        "messages[0].content[1] (container_upload block)",
        "messages[1].content[0] (server_tool_use block)",
        "messages[1].content[1] (web_search_tool_result block)",
        "messages[1] (an assistant prefill to continue)",  # it ends with the answer's text
        "tools[1] (web search server tool)",
    ]


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
        ({"thinking": {"type": "disabled"}, "output_config": {"effort": "high"}}, "none"),
        ({"output_config": {"effort": "medium"}}, "medium"),
        ({"output_config": {"effort": "xhigh"}}, "high"),
        ({"output_config": {"effort": "max"}}, "high"),
        ({}, None),
    ],
)
def test_thinking_becomes_reasoning(fields: dict[str, Any], effort: str | None) -> None:
    reasoning = _decode(_body(**fields)).chat.reasoning
    assert (reasoning.effort if reasoning is not None else None) == effort
    thinking = fields.get("thinking") or {}
    budget = thinking.get("budget_tokens")
    assert (reasoning.budget if reasoning is not None else None) == budget


@pytest.mark.parametrize("effort", ["low", "medium", "high"])
def test_thinking_budget_reads_back_as_the_effort_that_gives_it(effort: str) -> None:
    thinking = {"type": "enabled", "budget_tokens": _THINKING_BUDGET[effort]}
    reasoning = _decode(_body(thinking=thinking)).chat.reasoning
    assert reasoning == Reasoning(effort=effort, budget=_THINKING_BUDGET[effort])  # type: ignore[arg-type]


def test_output_format_becomes_a_strict_json_schema() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    config = {"format": {"type": "json_schema", "schema": schema}}
    assert _decode(_body(output_config=config)).chat.response_format == ResponseFormat(
        schema=schema, name="response", strict=True
    )


def test_sampling_stop_user_and_stream() -> None:
    chat = _decode(
        _body(
            temperature=0.2,
            top_p=0.9,
            top_k=40,
            stop_sequences=["END", "", "STOP"],
            metadata={"user_id": "u-7"},
            stream=False,
        )
    ).chat
    assert chat.sampling == Sampling(temperature=0.2, top_p=0.9, top_k=40, stop=("END", "STOP"))
    assert (chat.user, chat.stream) == ("u-7", False)
    minimal = _decode(_body(stream=None, metadata={"user_id": None})).chat
    assert minimal.stream is False
    assert (minimal.user, minimal.sampling) == (None, Sampling())
    assert [m.role for m in minimal.messages] == ["user"]


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
            "service_tier",
            "cache_control",
            "context_management",
            "speed",
            "inference_geo",
            "workspace_id",
        ]
    )
    assert decoded.untranslatable == []
    assert decoded.chat.sampling.top_k == 40  # no longer dropped: Anthropic and Gemini take it


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
    messages = decoded.chat.messages
    assert [m.role for m in messages] == ["user", "system", "user"]
    assert messages[1] == Message("system", (Text("# Environment", CacheMark()),))
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
    assert decoded.chat.tools[0] == Tool(name="f", description="d", parameters={"type": "object"})


def test_the_surface_forwards_beta_headers_and_narrows_for_what_only_anthropic_serves() -> None:
    body = _body(tools=[{"type": "web_search_20250305", "name": "web_search"}])
    headers = Headers({"anthropic-beta": "b-1", "x-api-key": "rp-secret"})
    decoded = CODEC.decode(body, headers)
    assert decoded.chat.native == NativeRequest("anthropic", body, {"anthropic-beta": "b-1"})
    assert decoded.chat.cap_to_model is True
    assert (decoded.model, decoded.only_wire) == ("gpt-4o", "anthropic")
    assert decoded.only_reason == "tools[0] (web search server tool)"
    plain = CODEC.decode(_body(), Headers({}))
    assert (plain.only_wire, plain.chat.native) == (None, NativeRequest("anthropic", _body()))
