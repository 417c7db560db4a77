"""The simulator's Responses API against recorded real OpenAI traffic
(tests/fixtures/providers/openai/responses_*, copied in with their provenance): each recorded
request is sent as it was, and the answer compared on structure — the order of event types,
each event's fields, the response object's fields, the headers — and, for the recorded 400,
byte for byte. Values (ids, text, token counts) naturally differ."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from tests.simulator.conftest import API_KEY, Upstream
from tests.support.cassettes import load

# What OpenAI sends as null but its own schema does not allow to be null: the simulator
# leaves these out (see `simulator/openai_responses_format.py`).
LEFT_OUT_WHEN_NULL = {"usage", "user"}


# Fields OpenAI's events gained after 2025, by event type (see the 2026 recording).
NEWER_FIELDS = {
    "response.output_text.delta": {"logprobs", "obfuscation"},
    "response.output_text.done": {"logprobs"},
    "response.function_call_arguments.done": {"name"},
}


def _post(upstream: Upstream, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return upstream.call("POST", "/v1/responses", body, {"authorization": f"Bearer {API_KEY}"})


def _events(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(block.split(b"data: ", 1)[1]) for block in raw.strip().split(b"\n\n")]


def _kinds(events: list[dict[str, Any]]) -> list[str]:
    """Event types with runs of deltas collapsed: the structure, not the text's length."""
    return [kind for kind, _ in itertools.groupby(e["type"] for e in events)]


def _without_reasoning_items(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events but a reasoning item's: the simulator's gpt-5 models always reason a little,
    where the recorded one (at `effort: low`, answering "pong") reported 0 reasoning tokens
    and sent no reasoning item."""
    return [e for e in events if e.get("item", {}).get("type") != "reasoning"]


def _response_keys(response: dict[str, Any]) -> set[str]:
    return {k for k, v in response.items() if not (k in LEFT_OUT_WHEN_NULL and v is None)}


def test_the_recorded_400_is_answered_word_for_word(upstream: Upstream) -> None:
    [recorded] = load("openai/responses_error_400_invalid_param.yaml")
    status, headers, raw = _post(upstream, recorded.request)
    assert status == recorded.status == 400
    # JSON, although the request asked for a stream, as recorded.
    assert headers["content-type"] == recorded.content_type == "application/json"
    assert json.loads(raw) == json.loads(recorded.body)


@pytest.mark.parametrize(
    "recording",
    [
        "openai/responses_nonstream_basic.yaml",
        "openai/responses_nonstream_reasoning_tokens_o3mini.yaml",
    ],
)
def test_a_response_has_the_recorded_fields(upstream: Upstream, recording: str) -> None:
    [recorded] = load(recording)
    status, _, raw = _post(upstream, recorded.request)
    assert status == 200, raw
    ours, theirs = json.loads(raw), json.loads(recorded.body)
    missing = _response_keys(theirs) - set(ours) - {"generate_summary"}
    assert not missing
    assert [item["type"] for item in ours["output"]] == [i["type"] for i in theirs["output"]]
    for mine, real in zip(ours["output"], theirs["output"], strict=True):
        assert set(real) <= set(mine)
        for part, real_part in zip(mine.get("content", ()), real.get("content", ()), strict=True):
            assert set(real_part) <= set(part)
    assert set(ours["usage"]) == set(theirs["usage"])
    details = ours["usage"]["input_tokens_details"]
    assert set(theirs["usage"]["input_tokens_details"]) <= set(details)
    assert ours["usage"]["output_tokens_details"].keys() == {"reasoning_tokens"}
    reasoning = theirs["usage"]["output_tokens_details"]["reasoning_tokens"]
    assert (ours["usage"]["output_tokens_details"]["reasoning_tokens"] > 0) == (reasoning > 0)


def test_a_text_stream_has_the_recorded_structure(upstream: Upstream) -> None:
    [recorded] = load("openai/responses_stream_text_raw_headers.yaml")
    status, headers, raw = _post(upstream, recorded.request)
    assert status == 200
    assert headers["content-type"] == recorded.content_type
    for name in ("x-request-id", "openai-version", "x-ratelimit-remaining-tokens"):
        assert name in headers
    ours, theirs = _events(raw), _events(recorded.body)
    assert ours[-1]["response"]["usage"]["output_tokens_details"]["reasoning_tokens"] > 0
    assert _kinds(_without_reasoning_items(ours)) == _kinds(theirs)
    by_kind = {e["type"]: e for e in ours}
    for real in theirs:
        assert set(by_kind[real["type"]]) == set(real), real["type"]
        if "response" in real:
            assert _response_keys(real["response"]) <= set(by_kind[real["type"]]["response"])
    assert ours[-1]["response"]["store"] is False  # as asked


def test_a_function_call_stream_and_its_follow_up_have_the_recorded_structure(
    upstream: Upstream,
) -> None:
    """Recorded in 2025, before `sequence_number`, `logprobs` on text events and the
    function's name on `function_call_arguments.done`: the simulator sends them, as OpenAI's
    schema now requires (and the 2026 recording shows, with `obfuscation`)."""
    for recorded in load("openai/responses_stream_function_call.yaml"):
        status, _, raw = _post(upstream, recorded.request)
        assert status == 200, raw
        ours, theirs = _events(raw), _events(recorded.body)
        assert _kinds(ours) == _kinds(theirs)
        by_kind = {e["type"]: e for e in ours}
        for real in theirs:
            newer = NEWER_FIELDS.get(real["type"], set()) | {"sequence_number"}
            assert set(real) <= set(by_kind[real["type"]]) <= set(real) | newer
            if "item" in real:
                assert set(real["item"]) <= set(by_kind[real["type"]]["item"])
