"""The simulator's stream has the structure of a recorded real OpenAI stream.

The recording is read from tests/fixtures/providers (copied in with its provenance). Both
of its turns are replayed — a streamed tool call, then streamed text after the tool result —
and compared chunk by chunk on structure: keys, delta shapes, where the usage chunk sits and
how the stream ends. Values (ids, text, token counts) naturally differ.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml

from tests.simulator import sse
from tests.simulator.conftest import Upstream
from tests.support.cassettes import PROVIDERS

RECORDING = PROVIDERS / "openai" / "chat_completions_stream_tool_call_then_text_include_usage.yaml"


def _turns() -> list[tuple[dict[str, Any], bytes]]:
    interactions = yaml.safe_load(RECORDING.read_text())["interactions"]
    return [
        (turn["request"]["parsed_body"], turn["response"]["body"]["string"].encode())
        for turn in interactions
    ]


def _skeleton(value: Any) -> Any:
    """Keys (recursively, in order) without values; lists by their first element."""
    if isinstance(value, dict):
        return tuple((key, _skeleton(item)) for key, item in value.items())
    if isinstance(value, list):
        return ("list", _skeleton(value[0])) if value else ("list",)
    return None


def _shape(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    first, *middle, finish, usage = chunks
    return {
        "first": _skeleton(first),
        "middle": {_skeleton(chunk) for chunk in middle},
        "finish": _skeleton(finish),
        "usage": _skeleton(usage),
        "finish_reason": finish["choices"][0]["finish_reason"],
        "usage_positions": [i for i, c in enumerate(chunks) if c.get("usage") is not None],
        "empty_choices_positions": [i for i, c in enumerate(chunks) if c["choices"] == []],
    }


@pytest.mark.parametrize("turn", [0, 1], ids=["tool_call", "text_after_tool"])
def test_stream_structure_matches_recording(upstream: Upstream, turn: int) -> None:
    request, recorded_raw = _turns()[turn]
    status, headers, raw = upstream.chat(request)
    assert status == 200, raw
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    for stream in (recorded_raw, raw):
        assert stream.endswith(b"\n\ndata: [DONE]\n\n")
        assert b"event:" not in stream and b"\r" not in stream
    recorded, ours = sse.chunks(recorded_raw), sse.chunks(raw)
    recorded_shape, our_shape = _shape(recorded), _shape(ours)
    assert our_shape["usage_positions"] == [len(ours) - 1]
    assert our_shape["empty_choices_positions"] == [len(ours) - 1]
    for name in ("first", "middle", "finish", "usage", "finish_reason"):
        assert our_shape[name] == recorded_shape[name], name
    assert {tuple(chunk) for chunk in ours} == {tuple(chunk) for chunk in recorded}


def test_replayed_tool_call_fits_the_recorded_tool(upstream: Upstream) -> None:
    request, _ = _turns()[0]
    _, _, raw = upstream.chat(request)
    calls = sse.tool_arguments(sse.chunks(raw))
    tool = request["tools"][0]["function"]
    assert [call["name"] for call in calls.values()] == [tool["name"]]
    jsonschema.validate(json.loads(calls[0]["arguments"]), tool["parameters"])
