"""What an Anthropic Messages request cannot carry to other providers
(`api.anthropic_decode`): the features only an Anthropic model serves, named by JSON path,
and the refusals, which name the field and the values it takes and never echo the caller's
value (a canary string in each bad field must appear nowhere in the error)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from routeplex_gateway.api.anthropic_decode import DecodedMessages, decode
from routeplex_gateway.api.schemas.openai_chat import MAX_TOKENS_CEILING
from routeplex_gateway.api.validation import validate_chat_body
from routeplex_gateway.canonical import Image, Media, Message, Opaque, Thinking, Tool
from routeplex_gateway.errors import ErrorCode, GatewayError

CANARY = "CANARY-7f3a9c"
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
    assert decoded.chat.native_for("anthropic") is body
    return decoded


def _tool(name: str = "f") -> dict[str, Any]:
    return {"name": name, "input_schema": {"type": "object", "properties": {}}}


# --- what only Anthropic can serve ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "untranslatable"),
    [
        (
            {"tools": [_tool(), {"type": "web_search_20250305", "name": "web_search"}]},
            ["tools[1] (web search server tool)"],
        ),
        (
            {"tools": [{"type": "code_execution_20250825", "name": "code_execution"}]},
            ["tools[0] (code execution server tool)"],
        ),
        (
            {"tools": [{"type": "bash_20250124", "name": "bash"}]},
            ["tools[0] (Anthropic bash tool)"],
        ),
        ({"tools": [{"type": f"{CANARY}_2030", "name": "x"}]}, ["tools[0] (Anthropic tool)"]),
        ({"container": "container_1"}, ["container"]),
        (
            {"mcp_servers": [{"type": "url", "url": "https://mcp.e.com", "name": "m"}]},
            ["mcp_servers"],
        ),
        (
            {"thinking": {"type": "between_tools"}},
            ["thinking.type (a thinking mode other than enabled, adaptive, disabled)"],
        ),
        ({CANARY: 1}, ["a request field RoutePlex does not know"]),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "read"},
                            {
                                "type": "document",
                                "source": {
                                    "type": "base64",
                                    "media_type": "application/pdf",
                                    "data": "JVBERi0=",
                                },
                                "citations": {"enabled": True},
                            },
                            {
                                "type": "document",
                                "source": {"type": "url", "url": "https://e.com/a.pdf"},
                            },
                            {"type": "image", "source": {"type": "file", "file_id": "file_1"}},
                            {"type": "container_upload", "file_id": "file_2"},
                        ],
                    }
                ]
            },
            [
                "messages[0].content[1].citations (citations)",
                "messages[0].content[2] (document by URL)",
                "messages[0].content[3] (image from Anthropic's Files API)",
                "messages[0].content[4] (container_upload block)",
            ],
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "search"},
                    {
                        "role": "assistant",
                        "content": [
                            {
                                "type": "server_tool_use",
                                "id": "srvtoolu_1",
                                "name": "web_search",
                                "input": {},
                            },
                            {
                                "type": "web_search_tool_result",
                                "tool_use_id": "srvtoolu_1",
                                "content": [],
                            },
                            {"type": "text", "text": "Found it."},
                        ],
                    },
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t",
                                "content": [{"type": "tool_reference", "tool_name": "x"}],
                            }
                        ],
                    },
                ]
            },
            [
                "messages[1].content[0] (server_tool_use block)",
                "messages[1].content[1] (web_search_tool_result block)",
                "messages[2].content[0].content[0] (tool_reference block)",
            ],
        ),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "B"}]},
            ["messages[1] (an assistant prefill to continue)"],
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "search"},
                    {
                        "role": "assistant",
                        "content": [
                            {
                                "type": "server_tool_use",
                                "id": "srvtoolu_1",
                                "name": "web_search",
                                "input": {},
                            }
                        ],
                    },
                ]
            },
            ["messages[1].content[0] (server_tool_use block)"],  # a paused turn, no prefill
        ),
    ],
)
def test_anthropic_only_features_are_named(
    fields: dict[str, Any], untranslatable: list[str]
) -> None:
    decoded = _decode(_body(**fields))
    assert decoded.untranslatable == untranslatable
    assert CANARY not in repr(decoded.untranslatable)


def test_what_only_anthropic_reads_is_opaque_and_named_by_its_path() -> None:
    """Files API sources and tool results' Anthropic-only blocks are `Opaque` parts (other
    providers refuse them, naming `where`); a URL document is a typed one."""
    image = {"type": "image", "source": {"type": "file", "file_id": "file_1"}}
    reference = {"type": "tool_reference", "tool_name": "x"}
    url_pdf = {"type": "document", "source": {"type": "url", "url": "https://e.com/a.pdf"}}
    messages = [
        {"role": "user", "content": [image, url_pdf]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t", "content": [reference]}],
        },
    ]
    chat = _decode(_body(messages=messages)).chat
    first = chat.messages[0].parts
    assert first[0] == Opaque("anthropic", image, "messages[0].content[0]")
    assert getattr(first[1], "media", None) == Media(
        media_type="application/pdf", url="https://e.com/a.pdf"
    )
    result = chat.messages[2].parts[0]
    assert getattr(result, "parts", None) == (
        Opaque("anthropic", reference, "messages[2].content[0].content[0]"),
    )


# --- refusals -------------------------------------------------------------------------------


def _with(path: str, value: Any) -> dict[str, Any]:
    """A valid body with one field (a dotted path; numbers index lists) set to `value`."""
    body = copy.deepcopy(
        _body(
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "t", "content": "ok"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                        },
                        {
                            "type": "document",
                            "source": {
                                "type": "base64",
                                "media_type": "application/pdf",
                                "data": "JVBERi0=",
                            },
                        },
                    ],
                },
            ],
            tools=[_tool()],
            tool_choice={"type": "auto"},
            thinking={"type": "enabled", "budget_tokens": 2048},
            output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}},
            metadata={"user_id": "u"},
        )
    )
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    target: Any = body
    for key in parents:
        target = target[key]
    target[last] = value
    return body


REFUSALS = [
    ("model", None, "model"),
    ("model", 7, "model"),
    ("model", "", "model"),
    ("messages", None, "messages"),
    ("messages", CANARY, "messages"),
    ("messages.0", CANARY, "messages[0]"),
    ("messages.0.role", CANARY, "messages[0].role"),
    ("messages.0.role", "system", "messages[0].role"),
    ("messages.0.content", {"text": CANARY}, "messages[0].content"),
    ("messages.0.content", "", "messages[0].content"),
    ("messages.0.content", [], "messages[0].content"),
    ("messages.0.content.0", CANARY, "messages[0].content[0]"),
    ("messages.0.content.0.type", CANARY, "messages[0].content[0].type"),
    ("messages.0.content.0.type", "tool_use", "messages[0].content[0].type"),
    ("messages.0.content.0.text", [CANARY], "messages[0].content[0].text"),
    ("messages.1.content.0.type", "image", "messages[1].content[0].type"),
    ("messages.1.content.0.id", 5, "messages[1].content[0].id"),
    ("messages.1.content.0.name", None, "messages[1].content[0].name"),
    ("messages.1.content.0.input", CANARY, "messages[1].content[0].input"),
    ("messages.2.content.0.tool_use_id", None, "messages[2].content[0].tool_use_id"),
    ("messages.2.content.0.is_error", CANARY, "messages[2].content[0].is_error"),
    ("messages.2.content.0.content", {"x": CANARY}, "messages[2].content[0].content"),
    ("messages.2.content.0.content", [{"type": CANARY}], "messages[2].content[0].content[0].type"),
    ("messages.2.content.1.source", CANARY, "messages[2].content[1].source"),
    ("messages.2.content.1.source.type", CANARY, "messages[2].content[1].source"),
    ("messages.2.content.1.source.data", 1, "messages[2].content[1].source.data"),
    ("messages.2.content.1.source.data", f"{PNG}!{CANARY}", "messages[2].content[1].source.data"),
    ("messages.2.content.1.source.data", "", "messages[2].content[1].source.data"),
    ("messages.2.content.1.source.data", "iVBORw0KGgo", "messages[2].content[1].source.data"),
    ("messages.2.content.1.source.media_type", CANARY, "messages[2].content[1].source.media_type"),
    (
        "messages.2.content.1.source.media_type",
        "image/bmp",
        "messages[2].content[1].source.media_type",
    ),
    ("messages.2.content.2.source.data", f"é{CANARY}", "messages[2].content[2].source.data"),
    ("messages.2.content.2.source.media_type", CANARY, "messages[2].content[2].source.media_type"),
    ("messages.2.content.2.citations", CANARY, "messages[2].content[2].citations"),
    ("top_k", CANARY, "top_k"),
    ("top_k", -1, "top_k"),
    ("top_k", 1.5, "top_k"),
    ("max_tokens", None, "max_tokens"),
    ("max_tokens", CANARY, "max_tokens"),
    ("max_tokens", True, "max_tokens"),
    ("max_tokens", 0, "max_tokens"),
    ("max_tokens", MAX_TOKENS_CEILING + 1, "max_tokens"),
    ("system", 3, "system"),
    ("system", [{"type": CANARY, "text": "x"}], "system[0]"),
    ("system", [{"type": "text", "text": None}], "system[0].text"),
    ("stop_sequences", CANARY, "stop_sequences"),
    ("stop_sequences", [CANARY, 1], "stop_sequences"),
    ("temperature", CANARY, "temperature"),
    ("temperature", 1.5, "temperature"),
    ("top_p", -0.1, "top_p"),
    ("stream", CANARY, "stream"),
    ("metadata", CANARY, "metadata"),
    ("metadata.user_id", 12, "metadata.user_id"),
    ("tools", CANARY, "tools"),
    ("tools.0", CANARY, "tools[0]"),
    ("tools.0.type", 3, "tools[0].type"),
    ("tools.0.name", None, "tools[0].name"),
    ("tools.0.input_schema", CANARY, "tools[0].input_schema"),
    ("tools.0.description", 1, "tools[0].description"),
    ("tools.0.strict", CANARY, "tools[0].strict"),
    ("tool_choice", CANARY, "tool_choice"),
    ("tool_choice.type", CANARY, "tool_choice"),
    ("tool_choice", {"type": "tool"}, "tool_choice.name"),
    ("tool_choice.disable_parallel_tool_use", CANARY, "tool_choice.disable_parallel_tool_use"),
    ("thinking", CANARY, "thinking"),
    ("thinking.budget_tokens", 1023, "thinking.budget_tokens"),
    ("thinking.budget_tokens", CANARY, "thinking.budget_tokens"),
    ("output_config", CANARY, "output_config"),
    ("output_config.effort", CANARY, "output_config.effort"),
    ("output_config.format", {"type": CANARY, "schema": {}}, "output_config.format"),
]


@pytest.mark.parametrize(("path", "value", "param"), REFUSALS)
def test_refusal_names_the_field_and_never_the_value(path: str, value: Any, param: str) -> None:
    body = _with(path, value)
    with pytest.raises(GatewayError) as raised:
        decode(body)
    error = raised.value
    assert (error.code, error.status, error.param) == (ErrorCode.VALIDATION_ERROR, 400, param)
    assert f"'{param}'" in error.message
    assert CANARY not in error.message and CANARY not in error.openai_body().decode()


def test_the_valid_refusal_base_decodes() -> None:
    decoded = _decode(_with("model", "gpt-4o"))
    assert decoded.untranslatable == []


@pytest.mark.parametrize("body", [None, [], "text", 3])
def test_body_must_be_an_object(body: Any) -> None:
    with pytest.raises(GatewayError) as raised:
        decode(body)
    assert raised.value.code is ErrorCode.VALIDATION_ERROR


def test_empty_messages_has_its_own_code() -> None:
    with pytest.raises(GatewayError) as raised:
        decode(_body(messages=[]))
    assert (raised.value.code, raised.value.param) == (ErrorCode.EMPTY_MESSAGES, "messages")


@pytest.mark.parametrize(
    ("block", "param"),
    [
        (
            {"type": "thinking", "thinking": CANARY, "signature": 5},
            "messages[1].content[0].signature",
        ),
        ({"type": "thinking", "signature": CANARY}, "messages[1].content[0].thinking"),
        ({"type": "redacted_thinking", "data": [CANARY]}, "messages[1].content[0].data"),
    ],
)
def test_thinking_blocks_are_checked(block: dict[str, Any], param: str) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [block]}]
    with pytest.raises(GatewayError) as raised:
        decode(_body(messages=messages))
    error = raised.value
    assert (error.code, error.param) == (ErrorCode.VALIDATION_ERROR, param)
    assert f"'{param}'" in error.message and CANARY not in error.message


@pytest.mark.parametrize("content", ["", []])
def test_final_assistant_message_may_be_empty(content: Any) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": content}]
    assert _decode(_body(messages=messages)).chat.messages[-1] == Message("assistant", ())


def test_a_thinking_block_without_signature_is_kept_unsigned() -> None:
    block = {"type": "thinking", "thinking": "t"}
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [block]}]
    last = _decode(_body(messages=messages)).chat.messages[-1]
    assert last == Message("assistant", (Thinking(text="t"),))


def test_max_tokens_ceiling_is_the_openai_surfaces() -> None:
    chat = _decode(_body(max_tokens=MAX_TOKENS_CEILING)).chat
    assert chat.max_output_tokens == MAX_TOKENS_CEILING
    out = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}
    assert validate_chat_body({**out, "max_tokens": MAX_TOKENS_CEILING}).max_output_tokens == (
        MAX_TOKENS_CEILING
    )
    with pytest.raises(GatewayError):
        validate_chat_body({**out, "max_tokens": MAX_TOKENS_CEILING + 1})


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        value = {"type": "object", "properties": {"x": value}}
    return value


def test_deep_nesting_is_refused_before_translation() -> None:
    with pytest.raises(GatewayError) as raised:
        decode(_body(tools=[{"name": "f", "input_schema": _nested(40)}]))
    assert raised.value.param == "tools"
    with pytest.raises(GatewayError) as raised:
        decode(_body(**{CANARY: _nested(40)}))
    assert raised.value.param is None and CANARY not in raised.value.message
    # Just below the limit, the request decodes, and the same schema in an OpenAI body (one
    # level deeper, in the tool's `function`) still passes the OpenAI surface's validation.
    decoded = _decode(_body(tools=[{"name": "f", "input_schema": _nested(29)}]))
    function = {"name": "f", "parameters": _nested(29)}
    validate_chat_body(
        {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "hello"}],
            "tools": [{"type": "function", "function": function}],
        }
    )
    assert decoded.chat.tools[0] == Tool(name="f", parameters=_nested(29))


def test_base64_data_may_be_wrapped_in_lines_and_goes_as_sent() -> None:
    wrapped = "iVBORw0K\nGgo="
    decoded = _decode(_with("messages.2.content.1.source.data", wrapped))
    parts = decoded.chat.messages[-1].parts
    image = Image(media=Media(media_type="image/png", data=wrapped))
    assert image in parts
    assert image.media.data_url == f"data:image/png;base64,{wrapped}"
