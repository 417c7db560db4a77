"""The OpenAI surface's encoding of answers that did not come from an OpenAI-shaped provider
(built from typed parts and deltas, validated against OpenAI's own schema), and its relay of
those that did (their bytes as they came)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import Response

from routeplex_gateway.api.openai import CODEC, ChunkStream
from routeplex_gateway.api.openai_encode import ChunkWriter, completion
from routeplex_gateway.api.pipeline import Decoded
from routeplex_gateway.canonical import (
    ChatRequest,
    ChatResponse,
    Chunk,
    Finish,
    FinishReason,
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
from routeplex_gateway.exchange import Exchange
from routeplex_gateway.metering.record import Endpoint
from tests.support.openai_schema import assert_valid

USAGE = Usage(input_tokens=12, output_tokens=7, cache_read_tokens=4, reasoning_tokens=None)


def _anthropic_answer(**fields: Any) -> ChatResponse:
    """An answer as a translating provider hands it over: typed parts, no OpenAI body."""
    answer: dict[str, Any] = {
        "id": "msg_01",
        "model": "claude-3-5-haiku-20241022",
        "parts": [
            Thinking(text="Let me think.", signature="sig"),
            Text("The weather "),
            Text("is fine."),
            ToolCall(id="toolu_1", name="get_weather", arguments='{"city": "Paris"}'),
        ],
        "finish_reason": "tool_calls",
        "usage": USAGE,
        "created": 1_700_000_000,
        "wire": "anthropic",
        "native": {"type": "message", "content": []},
        **fields,
    }
    return ChatResponse(**answer)


def _sse(raw: bytes) -> list[Any]:
    events = [block for block in raw.split(b"\n\n") if block]
    assert all(block.startswith(b"data: ") for block in events)
    return [
        event[6:].decode() if event == b"data: [DONE]" else orjson.loads(event[6:])
        for event in events
    ]


def test_a_completion_from_typed_parts_validates() -> None:
    body = completion(_anthropic_answer(), answer_id="req_1", model="claude-3-5-haiku")
    assert_valid(body, "CreateChatCompletionResponse")
    message = body["choices"][0]["message"]
    # Thinking has no place in Chat Completions; the texts are the content.
    assert message == {
        "role": "assistant",
        "content": "The weather is fine.",
        "tool_calls": [
            {
                "id": "toolu_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
        "refusal": None,
        "annotations": [],
    }
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["choices"][0]["logprobs"] is None
    assert (body["id"], body["model"], body["created"]) == (
        "msg_01",
        "claude-3-5-haiku-20241022",
        1_700_000_000,
    )
    # Known counts only: unknown reasoning is left out, never shown as 0.
    assert body["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 7,
        "total_tokens": 19,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {},
    }


def test_refusals_logprobs_and_unknowns_validate() -> None:
    tokens = [TokenLogprob("No", -0.25, (TokenLogprob("No", -0.25), TokenLogprob("I", -2.0)))]
    answer = _anthropic_answer(
        id="",
        model="",
        created=0,
        parts=[Refusal("I can't help with that.")],
        finish_reason="content_filter",
        usage=Usage(),
        logprobs=tokens,
    )
    body = completion(answer, answer_id="req_1", model="gemini-2.5-flash")
    assert_valid(body, "CreateChatCompletionResponse")
    assert (body["id"], body["model"]) == ("req_1", "gemini-2.5-flash")
    assert body["created"] > 0 and "usage" not in body
    message = body["choices"][0]["message"]
    assert message["content"] is None and message["refusal"] == "I can't help with that."
    assert body["choices"][0]["logprobs"]["content"][0] == {
        "token": "No",
        "logprob": -0.25,
        "bytes": [78, 111],
        "top_logprobs": [
            {"token": "No", "logprob": -0.25, "bytes": [78, 111]},
            {"token": "I", "logprob": -2.0, "bytes": [73]},
        ],
    }
    empty = completion(_anthropic_answer(parts=[], finish_reason=None), answer_id="r", model="m")
    assert_valid(empty, "CreateChatCompletionResponse")
    assert empty["choices"][0]["message"]["content"] == ""
    assert empty["choices"][0]["finish_reason"] == "stop"


def test_chunks_from_deltas_validate_and_keep_one_identity() -> None:
    writer = ChunkWriter("msg_01", "claude-3-5-haiku-20241022", 1_700_000_000)
    raw = writer.opening() + b"".join(
        writer.chunk(Chunk(deltas))
        for deltas in [
            (ThinkingDelta("hmm"), ThinkingDelta(signature="sig")),
            (TextDelta("Hel", (TokenLogprob("Hel", -0.1, ()),)), TextDelta("lo")),
            (ToolCallStart(0, "toolu_1", "get_weather"), ToolArgumentsDelta(0, '{"ci')),
            (ToolArgumentsDelta(0, 'ty": "Paris"}'),),
            (ToolCallStart(1, "toolu_2", "get_time"),),
            (RefusalDelta("no"), Finish("tool_calls")),
        ]
    )
    chunks = _sse(raw)
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
        assert (chunk["id"], chunk["model"], chunk["created"]) == (
            "msg_01",
            "claude-3-5-haiku-20241022",
            1_700_000_000,
        )
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    assert deltas == [
        {"role": "assistant", "content": "", "refusal": None},
        # No thinking: Chat Completions has no place for it.
        {"content": "Hel"},
        {"content": "lo"},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"ci'},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Paris"}'}}]},
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": ""},
                }
            ]
        },
        {"refusal": "no"},
        {},
    ]
    assert chunks[1]["choices"][0]["logprobs"]["content"][0]["token"] == "Hel"
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


class _Stream:
    """A finished stream as the codec sees it."""

    def __init__(self, wire: str, answer_id: str = "s1", model: str = "m1") -> None:
        self.wire = wire
        self.id = answer_id
        self.model = model
        self.created = 1_700_000_001
        self.usage = USAGE
        self.finish_reason: FinishReason | None = "stop"

    def __aiter__(self) -> AsyncIterator[Chunk]:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


def _exchange() -> Exchange:
    ex = Exchange(Endpoint.OPENAI_CHAT)
    ex.usage = USAGE
    return ex


def test_a_translated_stream_is_encoded_and_ends_with_usage_and_done() -> None:
    ex = _exchange()
    encoder = ChunkStream(ex)
    stream = _Stream("anthropic")
    raw = encoder.open(stream, Chunk((TextDelta("Hi"),), native=b"event: x\n\n"))
    raw += encoder.chunk(Chunk((Finish("stop"),), native=b""))
    raw += encoder.close(stream)
    events = _sse(raw)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
        assert (chunk["id"], chunk["model"], chunk["created"]) == ("s1", "m1", 1_700_000_001)
    assert [c["choices"][0]["delta"] for c in chunks[:-1]] == [
        {"role": "assistant", "content": "", "refusal": None},
        {"content": "Hi"},
        {},
    ]
    final = chunks[-1]
    assert final["choices"] == [] and final["usage"]["prompt_tokens"] == 12
    assert final["x_routeplex"]["request_id"] == ex.request_id


def test_an_openai_stream_is_relayed_byte_for_byte() -> None:
    ex = _exchange()
    encoder = ChunkStream(ex)
    stream = _Stream("openai", answer_id="chatcmpl-9", model="gpt-4o-mini-2024-07-18")
    # The provider's own bytes, spacing and field order included, are what the client gets.
    first = b'{"id":"chatcmpl-9", "object":"chat.completion.chunk","choices":[]}'
    raw = encoder.open(stream, Chunk((), native=first))
    assert raw == b"data: " + first + b"\n\n"
    assert encoder.chunk(Chunk((TextDelta("x"),), native=b'{"a": 1}')) == b'data: {"a": 1}\n\n'
    assert encoder.chunk(Chunk((), native=None)) == b""
    final = _sse(encoder.close(stream))
    assert final[0]["id"] == "chatcmpl-9" and final[0]["model"] == "gpt-4o-mini-2024-07-18"
    assert final[1] == "[DONE]"


def test_the_codec_relays_an_openai_body_and_encodes_any_other() -> None:
    ex = _exchange()
    decoded = Decoded(chat=ChatRequest(messages=[]), model="m")
    native = {"id": "chatcmpl-1", "object": "chat.completion", "choices": [], "extra": True}
    relayed = ChatResponse(
        id="chatcmpl-1",
        model="gpt",
        parts=[],
        finish_reason="stop",
        usage=USAGE,
        wire="openai",
        native=native,
    )
    body = _json(CODEC.answer(ex, decoded, relayed))
    assert body["extra"] is True and body["x_routeplex"]["request_id"] == ex.request_id
    encoded = _json(CODEC.answer(ex, decoded, _anthropic_answer()))
    assert "x_routeplex" in encoded
    del encoded["x_routeplex"]
    assert_valid(encoded, "CreateChatCompletionResponse")
    assert encoded["choices"][0]["message"]["content"] == "The weather is fine."


def _json(response: Response) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(bytes(response.body))
    return data
