"""The one SSE decoder every provider's stream uses: LF, CRLF and CR framing (all three are
standard), fed whole or one byte at a time, and each provider's stream reading them over a
real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from routeplex_gateway.canonical import Deployment, Provider, TextDelta
from routeplex_gateway.providers import anthropic, gemini, openai
from routeplex_gateway.providers.sse import SSEDecoder, parse_event
from tests.support.cassettes import load
from tests.support.chat import openai_request
from tests.support.servers import serve_in_thread

ENDINGS = {"LF": b"\n", "CRLF": b"\r\n", "CR": b"\r"}
EVENTS = [(b"", b'{"a": 1}'), (b"message_start", b'{"b": 2}'), (b"", b"line1\nline2")]


def _framed(ending: bytes) -> bytes:
    out = b": comment" + ending + ending
    for name, data in EVENTS:
        if name:
            out += b"event: " + name + ending
        for line in data.split(b"\n"):
            out += b"data: " + line + ending
        out += ending
    return out


def _decode(pieces: list[bytes]) -> list[tuple[bytes, bytes | None]]:
    decoder = SSEDecoder()
    events = [parse_event(block) for piece in pieces for block in decoder.feed(piece)]
    return [event for event in events if event[1] is not None]


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_every_framing_whole_and_byte_by_byte(ending: str) -> None:
    body = _framed(ENDINGS[ending])
    assert _decode([body]) == EVENTS
    assert _decode([body[i : i + 1] for i in range(len(body))]) == EVENTS
    # Split at every position into two pieces: a CRLF torn in two is still one line end.
    for cut in range(len(body)):
        assert _decode([body[:cut], body[cut:]]) == EVENTS, cut


def test_a_long_event_in_small_pieces_is_not_rescanned() -> None:
    big = b"data: " + b"x" * 100_000 + b"\n\n"
    decoder = SSEDecoder()
    blocks = [b for i in range(0, len(big), 1000) for b in decoder.feed(big[i : i + 1000])]
    assert blocks == [big[:-2]]


@contextmanager
def _trickle(body: bytes) -> Iterator[str]:
    async def answer(request: Request) -> StreamingResponse:
        await request.body()

        async def pieces() -> AsyncIterator[bytes]:
            for index in range(len(body)):
                yield body[index : index + 1]

        return StreamingResponse(pieces(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["POST"])])
    with serve_in_thread(app) as url:
        yield url


def _reframe(body: bytes, ending: bytes) -> bytes:
    lf = body.replace(b"\r\n", b"\n")
    return lf.replace(b"\n", ending)


async def _text(provider: Provider, kind: str, url: str) -> str:
    deployment = Deployment(provider=kind, kind=kind, base_url=url, api_key="k", upstream_model="m")
    request = openai_request({"messages": [{"role": "user", "content": "x"}]}, stream=True)
    try:
        stream = await provider.stream(request, deployment)
        texts = [d.text async for chunk in stream for d in chunk.deltas if isinstance(d, TextDelta)]
    finally:
        await provider.close()
    return "".join(texts)


@pytest.mark.parametrize("ending", list(ENDINGS))
async def test_each_providers_stream_in_each_framing_byte_by_byte(ending: str) -> None:
    newline = ENDINGS[ending]
    [anthropic_turn] = load("anthropic/messages_stream_text_minimal.yaml")
    with _trickle(_reframe(anthropic_turn.body, newline)) as url:
        assert await _text(anthropic.AnthropicProvider(), "anthropic", url) == "2"
    _, gemini_turn = load("google/stream_generate_content_sse_function_call_thought_signature.yaml")
    with _trickle(_reframe(gemini_turn.body, newline)) as url:
        text = await _text(gemini.GeminiProvider(), "gemini", url)
    assert text == "The capital of Mexico is Mexico City."
    # OpenAI-compatible servers may frame with CRLF: the old reader never found an event.
    chunks = [
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
        }
        for piece in ("Hello", " there")
    ]
    body = b"".join(b"data: " + orjson.dumps(c) + newline * 2 for c in chunks)
    body += b"data: [DONE]" + newline * 2
    with _trickle(body) as url:
        assert await _text(openai.OpenAIProvider(), "openai", url) == "Hello there"
