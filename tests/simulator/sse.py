"""Reading OpenAI-style SSE bytes in tests, strictly: framing errors fail loudly."""

from __future__ import annotations

import json
from typing import Any

DONE = b"data: [DONE]"


def events(raw: bytes) -> list[bytes]:
    """The `data: ...` events of a complete stream, each checked to be one `data:` line."""
    assert raw.endswith(b"\n\n"), raw[-40:]
    found = raw[:-2].split(b"\n\n")
    for event in found:
        assert event.startswith(b"data: "), event[:40]
        assert b"\n" not in event, event[:80]
    return found


def chunks(raw: bytes) -> list[dict[str, Any]]:
    """The JSON chunks of a complete stream, which must end with `data: [DONE]`."""
    found = events(raw)
    assert found[-1] == DONE
    assert DONE not in found[:-1]
    parsed: list[dict[str, Any]] = [json.loads(event[len(b"data: ") :]) for event in found[:-1]]
    return parsed


def content(stream_chunks: list[dict[str, Any]]) -> str:
    """The text of choice 0 reassembled from its deltas."""
    return "".join(
        choice["delta"].get("content") or ""
        for chunk in stream_chunks
        for choice in chunk["choices"]
        if choice["index"] == 0
    )


def tool_arguments(stream_chunks: list[dict[str, Any]]) -> dict[int, dict[str, str]]:
    """Streamed tool calls of choice 0 by index: id, name and reassembled arguments."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in stream_chunks:
        for choice in chunk["choices"]:
            for fragment in choice["delta"].get("tool_calls") or []:
                call = calls.setdefault(fragment["index"], {"arguments": ""})
                if "id" in fragment:
                    call["id"] = fragment["id"]
                    call["name"] = fragment["function"]["name"]
                call["arguments"] += fragment["function"]["arguments"]
    return calls
