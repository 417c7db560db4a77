"""OpenAI's answers read into canonical terms: a completion's typed parts, each chunk's
deltas (tool calls numbered in the order they start), finish reasons and log probabilities."""

from __future__ import annotations

from typing import Any

import pytest

from routeplex_gateway.canonical import (
    Finish,
    Refusal,
    RefusalDelta,
    Text,
    TextDelta,
    Thinking,
    ThinkingDelta,
    TokenLogprob,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
    Usage,
)
from routeplex_gateway.providers.openai_answer import ChunkReader, completion, finish_reason


def _completion(message: dict[str, Any], **choice: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", **choice}],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
    }


def test_completion_parts_in_order() -> None:
    data = _completion(
        {
            "role": "assistant",
            "reasoning_content": "think first",  # DeepSeek / vLLM
            "content": "Hello",
            "refusal": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "[1]"}},
            ],
        },
        finish_reason="tool_calls",
    )
    answer = completion(data)
    assert answer.parts == [
        Thinking(text="think first"),
        Text("Hello"),
        ToolCall(id="c1", name="f", arguments="{}"),
        ToolCall(id="c2", name="g", arguments="[1]"),
    ]
    assert answer.finish_reason == "tool_calls"
    assert (answer.id, answer.model, answer.created) == (
        "chatcmpl-1",
        "gpt-4o-mini-2024-07-18",
        1700000000,
    )
    assert answer.usage == Usage(input_tokens=10, output_tokens=5, reasoning_tokens=2)
    assert answer.wire == "openai" and answer.native is data
    assert answer.native_for("openai") is data and answer.native_for("anthropic") is None
    assert answer.logprobs is None and answer.stop_sequence is None


def test_refusal_logprobs_and_the_stop_string() -> None:
    logprobs = {
        "content": [
            {
                "token": "No",
                "logprob": -0.1,
                "bytes": [78, 111],
                "top_logprobs": [{"token": "No", "logprob": -0.1, "bytes": [78, 111]}],
            }
        ],
        "refusal": None,
    }
    data = _completion(
        {"role": "assistant", "content": None, "refusal": "I can't help with that."},
        logprobs=logprobs,
        stop_reason="###",  # vLLM: the stop string that ended the answer
    )
    answer = completion(data)
    assert answer.parts == [Refusal("I can't help with that.")]
    assert answer.logprobs == [TokenLogprob("No", -0.1, (TokenLogprob("No", -0.1),))]
    assert answer.stop_sequence == "###"
    assert answer.text() == ""


def test_no_usage_is_unknown_not_zero() -> None:
    data = _completion({"role": "assistant", "content": "x"})
    del data["usage"]
    assert not completion(data).usage.known
    assert completion(data).usage.input_tokens is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
        ("content_filter", "content_filter"),
        ("eos", "stop"),  # a server's own: the model ended
        (None, None),
        ("", None),
    ],
)
def test_finish_reasons(raw: Any, reason: str | None) -> None:
    assert finish_reason(raw) == reason


def _chunk(delta: dict[str, Any], finish: str | None = None, **choice: Any) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, **choice}],
    }


def test_chunks_to_deltas() -> None:
    reader = ChunkReader()
    assert reader.deltas(_chunk({"role": "assistant", "content": "", "refusal": None})) == ()
    assert reader.deltas(_chunk({"reasoning_content": "hmm"})) == (ThinkingDelta("hmm"),)
    assert reader.deltas(_chunk({"content": "Hi"})) == (TextDelta("Hi"),)
    assert reader.deltas(_chunk({"refusal": "No."})) == (RefusalDelta("No."),)
    start = {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
    assert reader.deltas(_chunk({"tool_calls": [start]})) == (ToolCallStart(0, "c1", "f"),)
    fragment = {"index": 0, "function": {"arguments": '{"a"'}}
    assert reader.deltas(_chunk({"tool_calls": [fragment]})) == (ToolArgumentsDelta(0, '{"a"'),)
    # A whole call in one chunk (Gemini's OpenAI endpoint sends them so).
    whole = {"index": 1, "id": "c2", "function": {"name": "g", "arguments": "{}"}}
    assert reader.deltas(_chunk({"tool_calls": [whole]})) == (
        ToolCallStart(1, "c2", "g"),
        ToolArgumentsDelta(1, "{}"),
    )
    assert reader.deltas(_chunk({}, "tool_calls")) == (Finish("tool_calls"),)
    assert reader.finish_reason == "tool_calls"
    # The usage-only chunk has no choice 0.
    assert reader.deltas({"id": "c", "choices": [], "usage": {"prompt_tokens": 1}}) == ()


def test_calls_are_numbered_in_the_order_they_start() -> None:
    """Servers that reuse index 0 for every call, or leave the index out."""
    reader = ChunkReader()
    for call_id in ("a", "b"):
        call = {"index": 0, "id": call_id, "function": {"name": "f", "arguments": ""}}
        reader.deltas(_chunk({"tool_calls": [call]}))
    more = {"index": 0, "function": {"arguments": "{}"}}
    assert reader.deltas(_chunk({"tool_calls": [more]})) == (ToolArgumentsDelta(1, "{}"),)

    unindexed = ChunkReader()
    start = {"id": "x", "function": {"name": "f", "arguments": "{"}}
    assert unindexed.deltas(_chunk({"tool_calls": [start]})) == (
        ToolCallStart(0, "x", "f"),
        ToolArgumentsDelta(0, "{"),
    )
    assert unindexed.deltas(_chunk({"tool_calls": [{"function": {"arguments": "}"}}]})) == (
        ToolArgumentsDelta(0, "}"),
    )
    second = {"id": "y", "function": {"name": "g"}}
    assert unindexed.deltas(_chunk({"tool_calls": [second]})) == (ToolCallStart(1, "y", "g"),)


def test_chunk_text_with_logprobs_and_a_stop_string_and_other_choices() -> None:
    reader = ChunkReader()
    token = {"token": "Hi", "logprob": -0.5, "bytes": [72, 105], "top_logprobs": []}
    logprobs = {"content": [token]}
    assert reader.deltas(_chunk({"content": "Hi"}, logprobs=logprobs)) == (
        TextDelta("Hi", (TokenLogprob("Hi", -0.5, ()),)),
    )
    assert reader.deltas(_chunk({}, "stop", stop_reason="END")) == (Finish("stop", "END"),)
    # With `n`, only choice 0 is the canonical answer.
    other = {"id": "c", "choices": [{"index": 1, "delta": {"content": "other"}}]}
    assert reader.deltas(other) == ()
