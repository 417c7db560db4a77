"""Anthropic and Gemini answers → OpenAI shapes, for cases no recording shows: refusals,
safety stops, blocked prompts, the JSON-mode answer tool, and streams that arrive one byte
at a time (framing split anywhere, CRLF included)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from routeplex_gateway.canonical import (
    ChatRequest,
    Deployment,
    Provider,
    Refusal,
    Text,
    Thinking,
    ToolCall,
)
from routeplex_gateway.providers import anthropic, gemini
from routeplex_gateway.providers.anthropic_translate import ANSWER_TOOL
from tests.support.cassettes import load
from tests.support.openai_schema import assert_valid
from tests.support.servers import serve_in_thread


def test_anthropic_refusal_is_content_filter() -> None:
    data = {
        "id": "m",
        "model": "c",
        "content": [],
        "stop_reason": "refusal",
        "usage": {"input_tokens": 1, "output_tokens": 0},
    }
    response = anthropic.completion(data, answer_tool=False)
    assert response.parts == [Refusal(anthropic.REFUSAL_NOTE)]
    assert response.finish_reason == "content_filter"


def test_anthropic_answer_tool_becomes_the_message_text() -> None:
    data = {
        "id": "m",
        "model": "c",
        "content": [
            {"type": "thinking", "thinking": "secret", "signature": "s"},
            {"type": "tool_use", "id": "t", "name": ANSWER_TOOL, "input": {"a": 1}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    thought = Thinking(text="secret", signature="s")
    answer = anthropic.completion(data, answer_tool=True)
    assert answer.parts == [thought, Text('{"a":1}')]  # the text, and no tool call
    assert answer.finish_reason == "stop"
    # Without JSON mode a tool of that name is just a tool.
    plain = anthropic.completion(data, answer_tool=False)
    call = ToolCall(id="t", name=ANSWER_TOOL, arguments='{"a":1}')
    assert plain.finish_reason == "tool_calls" and plain.parts == [thought, call]


def test_anthropic_usage_without_counts_is_unknown() -> None:
    assert not anthropic.parse_usage(None).known
    assert anthropic.parse_usage({"output_tokens": 3}).input_tokens is None


def test_gemini_blocked_prompt_and_safety_stop() -> None:
    blocked = gemini.completion({"promptFeedback": {"blockReason": "SAFETY"}})
    assert_valid(blocked.body, "CreateChatCompletionResponse")
    assert blocked.body["choices"][0]["finish_reason"] == "content_filter"
    assert not blocked.usage.known and "usage" not in blocked.body
    for reason, expected in (
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("MAX_TOKENS", "length"),
        ("OTHER", "content_filter"),
        ("STOP", "stop"),
    ):
        data = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": reason}]}
        assert gemini.completion(data).body["choices"][0]["finish_reason"] == expected


@contextmanager
def _trickle(body: bytes, content_type: str) -> Iterator[str]:
    """A server that sends `body` one byte per write."""

    async def answer(request: Request) -> StreamingResponse:
        await request.body()

        async def pieces() -> AsyncIterator[bytes]:
            for index in range(len(body)):
                yield body[index : index + 1]

        return StreamingResponse(pieces(), media_type=content_type)

    with serve_in_thread(
        Starlette(routes=[Route("/{path:path}", answer, methods=["POST"])])
    ) as url:
        yield url


async def _chunks(provider: Provider, kind: str, url: str) -> list[dict[str, Any]]:
    deployment = Deployment(provider=kind, kind=kind, base_url=url, api_key="k", upstream_model="m")
    request = ChatRequest(
        body={"messages": [{"role": "user", "content": "x"}]}, stream=True, max_output_tokens=None
    )
    try:
        stream = await provider.stream(request, deployment)
        return [chunk.data async for chunk in stream]
    finally:
        await provider.close()


def _text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)


async def test_byte_by_byte_streams() -> None:
    [minimal] = load("anthropic/messages_stream_text_minimal.yaml")
    with _trickle(minimal.body, "text/event-stream") as url:
        chunks = await _chunks(anthropic.AnthropicProvider(), "anthropic", url)
    assert _text(chunks) == "2"
    _, sse = load("google/stream_generate_content_sse_function_call_thought_signature.yaml")
    assert b"\r\n\r\n" in sse.body
    with _trickle(sse.body, "text/event-stream") as url:
        chunks = await _chunks(gemini.GeminiProvider(), "gemini", url)
    assert _text(chunks) == "The capital of Mexico is Mexico City."
