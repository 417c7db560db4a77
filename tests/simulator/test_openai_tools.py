"""Tool calls and structured output on the OpenAI surface: SDK client and raw bytes."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import openai

from tests.simulator import sse
from tests.simulator.conftest import Upstream
from tests.support.openai_schema import assert_all_valid as assert_valid

HELLO: Any = [{"role": "user", "content": "hello"}]
CAPITAL_SCHEMA = {
    "type": "object",
    "properties": {"country": {"type": "string"}},
    "required": ["country"],
    "additionalProperties": False,
}
MULTIPLY_SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
}
TOOLS: Any = [
    {"type": "function", "function": {"name": "get_capital", "parameters": CAPITAL_SCHEMA}},
    {"type": "function", "function": {"name": "multiply", "parameters": MULTIPLY_SCHEMA}},
]


def test_sdk_tool_call_non_stream(upstream: Upstream) -> None:
    completion = upstream.client().chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "capital of the UK?"}],
        tools=TOOLS,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    calls = choice.message.tool_calls or []
    assert len(calls) == 1 and calls[0].id.startswith("call_")
    call = calls[0]
    assert isinstance(call, openai.types.chat.ChatCompletionMessageFunctionToolCall)
    assert call.function.name == "get_capital"
    jsonschema.validate(json.loads(call.function.arguments), CAPITAL_SCHEMA)


def test_raw_tool_call_body_is_schema_valid(upstream: Upstream) -> None:
    request = {"model": "gpt-4o", "messages": HELLO, "tools": TOOLS, "tool_choice": "required"}
    body = upstream.completion(request)
    assert_valid("CreateChatCompletionResponse", body)
    message = body["choices"][0]["message"]
    assert list(message) == ["role", "content", "tool_calls", "refusal", "annotations"]


def test_stream_tool_call_fragments(upstream: Upstream) -> None:
    request = {
        "model": "gpt-4o-mini",
        "messages": HELLO,
        "tools": TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "multiply"}},
        "stream_options": {"include_usage": True},
    }
    _, raw = upstream.stream(request)
    chunks = sse.chunks(raw)
    assert_valid("CreateChatCompletionStreamResponse", *chunks)
    first = chunks[0]["choices"][0]["delta"]
    assert list(first) == ["role", "content", "tool_calls", "refusal"]
    opening = first["tool_calls"][0]
    assert opening["function"] == {"name": "multiply", "arguments": ""}
    assert list(opening) == ["index", "id", "type", "function"]
    fragments = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[1:-2]]
    assert len(fragments) > 3
    assert all(
        list(f) == ["index", "function"] and list(f["function"]) == ["arguments"] for f in fragments
    )
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    calls = sse.tool_arguments(chunks)
    assert calls[0]["name"] == "multiply"
    jsonschema.validate(json.loads(calls[0]["arguments"]), MULTIPLY_SCHEMA)
    non_stream = upstream.completion({**request, "stream": False, "stream_options": None})
    tool_call = non_stream["choices"][0]["message"]["tool_calls"][0]
    assert tool_call["function"]["arguments"] == calls[0]["arguments"]
    assert tool_call["id"] == calls[0]["id"]


def test_parallel_tool_calls(upstream: Upstream) -> None:
    messages = [{"role": "user", "content": "Run both tools in parallel please"}]
    body = upstream.completion({"model": "gpt-4o", "messages": messages, "tools": TOOLS})
    calls = body["choices"][0]["message"]["tool_calls"]
    assert [call["function"]["name"] for call in calls] == ["get_capital", "multiply"]
    _, raw = upstream.stream({"model": "gpt-4o", "messages": messages, "tools": TOOLS})
    streamed = sse.tool_arguments(sse.chunks(raw))
    assert [streamed[i]["name"] for i in (0, 1)] == ["get_capital", "multiply"]
    jsonschema.validate(json.loads(streamed[1]["arguments"]), MULTIPLY_SCHEMA)
    serial = {"model": "gpt-4o", "messages": messages, "tools": TOOLS, "parallel_tool_calls": False}
    assert len(upstream.completion(serial)["choices"][0]["message"]["tool_calls"]) == 1


def test_text_after_tool_result_and_with_tool_choice_none(upstream: Upstream) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_capital", "arguments": "{}"},
    }
    messages = [
        {"role": "user", "content": "capital?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "London"},
    ]
    after = upstream.completion({"model": "gpt-4o", "messages": messages, "tools": TOOLS})
    assert after["choices"][0]["finish_reason"] == "stop"
    assert after["choices"][0]["message"]["content"]
    refused = {"model": "gpt-4o", "messages": HELLO, "tools": TOOLS, "tool_choice": "none"}
    assert upstream.completion(refused)["choices"][0]["finish_reason"] == "stop"


def test_json_object_and_json_schema_modes(upstream: Upstream) -> None:
    client = upstream.client()
    messages: Any = [{"role": "user", "content": "Answer in JSON"}]
    plain = client.chat.completions.create(
        model="gpt-4o", messages=messages, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(plain.choices[0].message.content or ""), dict)
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "population": {"type": "integer", "minimum": 1},
            "tags": {"type": "array", "items": {"enum": ["big", "old"]}},
        },
        "required": ["city", "population", "tags"],
        "additionalProperties": False,
    }
    structured = client.chat.completions.create(
        model="gpt-4o",
        messages=messages,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "city", "schema": schema, "strict": True},
        },
    )
    jsonschema.validate(json.loads(structured.choices[0].message.content or ""), schema)


def test_a_system_reminder_after_the_user_does_not_end_the_users_turn(upstream: Upstream) -> None:
    # Claude Code's shape: the user's turn, then a system message; the model answers the user.
    completion = upstream.client().chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "user", "content": "capital of the UK?"},
            {"role": "system", "content": "Reminder: use the tools."},
        ],
        tools=TOOLS,
    )
    assert completion.choices[0].finish_reason == "tool_calls"
