"""A Responses request decoded into the canonical one: real recorded requests (pydantic-ai's
traffic with OpenAI, tests/fixtures/providers/openai/responses_*) and every item and part
kind, mapped one to one; and a real recorded OpenAI event stream relayed byte for byte."""

from __future__ import annotations

from typing import Any

from routeplex_gateway.api.responses import ResponseEvents
from routeplex_gateway.api.responses_decode import WIRE, decode
from routeplex_gateway.canonical import (
    Audio,
    Chunk,
    Document,
    Image,
    Reasoning,
    Refusal,
    ResponseFormat,
    Text,
    Thinking,
    ToolCall,
    ToolChoice,
    ToolResult,
)
from routeplex_gateway.exchange import Exchange
from routeplex_gateway.metering.record import Endpoint
from tests.support.cassettes import load


def test_recorded_requests_decode() -> None:
    first, second = load("openai/responses_stream_function_call.yaml")
    decoded = decode(first.request)
    assert decoded.model == "gpt-4o" and decoded.chat.stream is True
    (user,) = decoded.chat.messages  # an empty `instructions` adds no system turn
    assert user.role == "user" and user.parts == (Text("What is the capital of France?"),)
    (tool,) = decoded.chat.tools
    assert tool.name == "get_capital" and tool.strict is True
    assert decoded.chat.tool_choice == ToolChoice("auto")
    turns = decode(second.request).chat.messages
    assert [m.role for m in turns] == ["user", "assistant", "tool"]
    (call,) = turns[1].parts
    assert isinstance(call, ToolCall) and call.name == "get_capital"
    assert call.arguments == '{"country":"France"}'
    (result,) = turns[2].parts
    assert isinstance(result, ToolResult) and result.call_id == call.id
    assert result.parts == (Text("Paris"),)
    reasoning = decode(load("openai/responses_nonstream_reasoning_tokens_o3mini.yaml")[0].request)
    assert reasoning.chat.reasoning == Reasoning(effort="low")


def test_every_item_and_part_kind() -> None:
    body: dict[str, Any] = {
        "model": "m",
        "instructions": "Be brief.",
        "input": [
            {"role": "developer", "content": "Use metric units."},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Look:"},
                    {"type": "input_image", "image_url": "https://x/cat.png", "detail": "low"},
                    {"type": "input_file", "filename": "a.pdf", "file_data": "JVBERi0="},
                    {"type": "input_file", "file_url": "https://x/b.pdf"},
                    {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
                ],
            },
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "t"}]},
            {
                "type": "message",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "Calling.", "annotations": []},
                    {"type": "refusal", "refusal": "Not that."},
                ],
            },
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {
                "type": "function_call_output",
                "call_id": "c2",
                "output": [{"type": "input_image", "image_url": "data:image/png;base64,iVBO"}],
            },
            {"role": "user", "content": "Thanks."},
        ],
        "text": {"format": {"type": "json_schema", "name": "n", "schema": {"type": "object"}}},
        "reasoning": {"effort": "xhigh"},
        "tool_choice": {"type": "allowed_tools", "mode": "required", "tools": [
            {"type": "function", "name": "f"},
        ]},
        "parallel_tool_calls": False,
        "max_output_tokens": 99,
        "temperature": 0.5,
        "top_p": 0.9,
        "safety_identifier": "u1",
        "include": ["reasoning.encrypted_content"],
    }  # fmt: skip
    decoded = decode(body)
    chat = decoded.chat
    assert decoded.encrypted_reasoning is True
    roles = [m.role for m in chat.messages]
    assert roles == ["system", "system", "user", "assistant", "tool", "user"]
    user = chat.messages[2].parts
    assert [type(p) for p in user] == [Text, Image, Document, Document, Audio]
    image, inline, linked = user[1], user[2], user[3]
    assert isinstance(image, Image) and image.detail == "low" and image.media.url
    assert isinstance(inline, Document) and inline.media.media_type == "application/pdf"
    assert isinstance(linked, Document) and linked.media.url == "https://x/b.pdf"
    assistant = chat.messages[3].parts
    assert [type(p) for p in assistant] == [Thinking, Text, Refusal, ToolCall, ToolCall]
    thinking = assistant[0]
    assert isinstance(thinking, Thinking) and thinking.signature is None  # OpenAI's own
    results = chat.messages[4].parts
    assert [r.call_id for r in results if isinstance(r, ToolResult)] == ["c1", "c2"]
    assert chat.response_format == ResponseFormat(schema={"type": "object"}, name="n")
    assert chat.reasoning == Reasoning(effort="high")
    assert chat.tool_choice == ToolChoice("required", ("f",), False)
    assert chat.max_output_tokens == 99 and chat.user == "u1"
    assert chat.sampling.temperature == 0.5 and chat.sampling.top_p == 0.9


def test_a_recorded_openai_stream_is_relayed_byte_for_byte() -> None:
    """OpenAI's own events (2025, before sequence numbers), as the provider hands them over:
    every one relayed as it came, `store` said false, and the last carrying `x_routeplex`."""
    raw = load("openai/responses_stream_function_call.yaml")[0].body
    events = [block + b"\n\n" for block in raw.split(b"\n\n") if block.strip()]

    class Stream:
        wire, id, model, created, finish_reason = WIRE, "", "gpt-4o", 0, "tool_calls"

    ex = Exchange(Endpoint.OPENAI_RESPONSES)
    encoder = ResponseEvents(ex, {}, sealed=False)
    sent = encoder.open(Stream(), Chunk(native=events[0]))  # type: ignore[arg-type]
    sent += b"".join(encoder.chunk(Chunk(native=event)) for event in events[1:])
    sent += encoder.close(Stream())  # type: ignore[arg-type]
    expected = b"".join(events[:-1]).replace(b'"store":true', b'"store":false')
    assert sent.startswith(expected)
    last = sent[len(expected) :]
    assert last.startswith(b"event: response.completed\ndata: ")
    assert b'"x_routeplex":{"request_id":"' + ex.request_id.encode() in last
    assert b'"store":true' not in sent
