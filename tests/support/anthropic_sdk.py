"""The official `anthropic` SDK as the judge of bytes the Anthropic surface would send: a client
whose transport answers every request with given status, content type and body, so that the
SDK's own parsing (its `Message` model, stream accumulator and error classes) reads them.

Also a reader of Anthropic's SSE framing, and a check of the event order Anthropic documents.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
from anthropic.types import RawMessageStreamEvent
from pydantic import TypeAdapter

SSE = "text/event-stream"
_EVENTS: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)


def client(body: bytes, status: int = 200, content_type: str = SSE) -> anthropic.Anthropic:
    """An SDK client whose every request is answered with `body`."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, headers={"content-type": content_type}, content=body)

    return anthropic.Anthropic(
        api_key="sk-ant-test",
        base_url="http://routeplex.invalid",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(answer)),
    )


REQUEST: dict[str, Any] = {
    "model": "any-model",
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "hello"}],
}


def final_message(stream_body: bytes) -> anthropic.types.Message:
    """What the SDK's stream helper accumulates from an SSE body."""
    with client(stream_body).messages.stream(**REQUEST) as stream:
        return stream.get_final_message()


def events(stream_body: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each SSE event; the name must match the data's `type`."""
    out = []
    for block in stream_body.decode().split("\n\n"):
        if not block:
            continue
        lines = block.split("\n")
        assert len(lines) == 2 and lines[0].startswith("event: "), block
        assert lines[1].startswith("data: "), block
        name, data = lines[0][len("event: ") :], json.loads(lines[1][len("data: ") :])
        assert data["type"] == name
        out.append((name, data))
    return out


def assert_event_order(stream_body: bytes) -> None:
    """Anthropic's documented sequence, and each event valid by the SDK's strict models:
    message_start; per block (indexes 0, 1, … in order) content_block_start, its deltas,
    content_block_stop; message_delta; message_stop. `ping` may come anywhere after the start.
    """
    sequence = [(n, d) for n, d in events(stream_body) if n != "ping"]
    assert sequence[0][0] == "message_start"
    assert [n for n, _ in sequence[-2:]] == ["message_delta", "message_stop"]
    open_index: int | None = None
    next_index = 0
    for name, data in sequence:
        if name != "error":
            _EVENTS.validate_python(data, strict=False)
        if name == "content_block_start":
            assert open_index is None and data["index"] == next_index
            open_index, next_index = data["index"], next_index + 1
        elif name == "content_block_delta":
            assert data["index"] == open_index
        elif name == "content_block_stop":
            assert data["index"] == open_index
            open_index = None
        elif name in ("message_delta", "message_stop"):
            assert open_index is None
    assert [n for n, _ in sequence].count("message_start") == 1
