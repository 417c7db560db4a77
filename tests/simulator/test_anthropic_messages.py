"""The Anthropic Messages surface over a real socket: the official `anthropic` SDK as client,
raw bytes compared with the recorded real streams, validation, faults and thinking."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
import yaml

from tests.simulator.conftest import Upstream
from tests.support.cassettes import PROVIDERS

KEY = "sk-ant-test"
HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
HELLO: Any = [{"role": "user", "content": "hello"}]
WEATHER = {
    "name": "get_weather",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def _client(upstream: Upstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=upstream.url, api_key=KEY, max_retries=0)


def _post(
    upstream: Upstream, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    return upstream.call("POST", "/v1/messages", body, HEADERS if headers is None else headers)


def _events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, parsed data) pairs; every event must be `event:` + `data:` lines."""
    assert raw.endswith(b"\n\n")
    found = []
    for block in raw.decode()[:-2].split("\n\n"):
        name_line, data_line = block.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        data = json.loads(data_line[len("data: ") :])  # padding spaces tolerated by JSON
        assert data["type"] == name_line[len("event: ") :]
        found.append((data["type"], data))
    return found


def _recorded_events(name: str, turn: int = 0) -> list[tuple[str, dict[str, Any]]]:
    cassette = yaml.safe_load((PROVIDERS / "anthropic" / name).read_text())
    raw = cassette["interactions"][turn]["response"]["body"]["string"].encode()
    return _events(raw)


def _sequence(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Event names with runs of deltas collapsed: the stream's grammar."""
    names: list[str] = []
    for name, _ in events:
        if not (names and name == "content_block_delta" and names[-1] == name):
            names.append(name)
    return names


def test_sdk_message_and_usage(upstream: Upstream) -> None:
    message = _client(upstream).messages.create(
        model="claude-haiku-4-5", max_tokens=200, messages=HELLO
    )
    assert message.type == "message" and message.model == "claude-haiku-4-5"
    assert message.id.startswith("msg_01")
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    [block] = message.content
    assert isinstance(block, anthropic.types.TextBlock) and block.text
    assert message.usage.input_tokens == 8  # the same count as the OpenAI surface
    assert message.usage.cache_read_input_tokens == 0


def test_sdk_stream_matches_the_plain_answer(upstream: Upstream) -> None:
    client = _client(upstream)
    plain = client.messages.create(model="claude-haiku-4-5", max_tokens=200, messages=HELLO)
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=200, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert isinstance(plain.content[0], anthropic.types.TextBlock)
    assert text == plain.content[0].text
    assert final.usage.output_tokens == plain.usage.output_tokens
    assert final.stop_reason == "end_turn"


def test_stream_grammar_matches_the_recordings(upstream: Upstream) -> None:
    recorded = _recorded_events("messages_stream_text_minimal.yaml")
    status, headers, raw = _post(upstream, {**_body(), "stream": True})
    assert status == 200 and headers["content-type"] == "text/event-stream; charset=utf-8"
    ours = _events(raw)
    assert _sequence(ours) == _sequence(recorded)
    start, recorded_start = ours[0][1]["message"], recorded[0][1]["message"]
    assert list(start) == list(recorded_start)
    assert set(start["usage"]) <= set(recorded_start["usage"])
    assert start["usage"]["output_tokens"] == 1  # provisional, as recorded
    delta = ours[-2][1]
    assert set(delta) == set(recorded[-2][1]) and set(delta["usage"]) == set(
        recorded[-2][1]["usage"]
    )
    assert delta["usage"]["output_tokens"] > 1  # the final, cumulative count
    assert any(line.endswith(b" ") for line in raw.split(b"\n") if line.startswith(b"data: {"))


def test_tool_use_stream_grammar(upstream: Upstream) -> None:
    recorded = _recorded_events("messages_stream_parallel_tool_use_then_text.yaml")
    body = {**_body(), "tools": [WEATHER], "stream": True}
    ours = _events(_post(upstream, body)[2])
    # One tool_use block (the recording has two): start, ping, deltas, stop.
    assert _sequence(ours) == _sequence(recorded)[:5] + _sequence(recorded)[-2:]
    block = ours[1][1]["content_block"]
    assert set(block) <= set(recorded[1][1]["content_block"]) and block["input"] == {}
    deltas = [d["delta"] for name, d in ours if name == "content_block_delta"]
    assert deltas[0] == {"type": "input_json_delta", "partial_json": ""}
    assert json.loads("".join(d["partial_json"] for d in deltas))["city"]
    assert ours[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_tool_result_turn_and_validation(upstream: Upstream) -> None:
    client = _client(upstream)
    first = client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=200,
        messages=HELLO,
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "any"},
    )
    [use] = first.content
    assert isinstance(use, anthropic.types.ToolUseBlock) and use.id.startswith("toolu_01")
    history: Any = [
        *HELLO,
        {"role": "assistant", "content": [use.model_dump()]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "9C"}],
        },
    ]
    answer = client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=200,
        messages=history,
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert answer.stop_reason == "end_turn"
    history[2]["content"][0]["tool_use_id"] = "toolu_01other"
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(model="claude-haiku-4-5", max_tokens=200, messages=history)
    assert "`tool_use` ids were found without `tool_result` blocks" in str(raised.value)
    status, _, raw = _post(upstream, _body(messages=[history[2]]))
    assert status == 400
    assert "corresponding `tool_use` block" in json.loads(raw)["error"]["message"]


def _body(**extra: Any) -> dict[str, Any]:
    return {"model": "claude-haiku-4-5", "max_tokens": 200, "messages": HELLO, **extra}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "claude-haiku-4-5", "messages": HELLO}, "max_tokens: Field required"),
        (_body(messages=[{"role": "system", "content": "x"}]), "top-level `system` parameter"),
        (_body(messages=[{"role": "user", "content": ""}]), "must be non-empty"),
        (_body(temperature=1.5), "less than or equal to 1"),
        (_body(thinking={"type": "enabled", "budget_tokens": 1024}), "budget_tokens"),
        (
            _body(
                model="claude-3-5-haiku-20241022",
                max_tokens=4000,
                thinking={"type": "enabled", "budget_tokens": 1024},
            ),
            "does not support thinking",
        ),
        (_body(stop_sequences=["\n\n"]), "non-whitespace"),
    ],
)
def test_invalid_requests(upstream: Upstream, body: dict[str, Any], message: str) -> None:
    status, _, raw = _post(upstream, body)
    assert status == 400
    error = json.loads(raw)
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert message in error["error"]["message"] and error["request_id"].startswith("req_011")


def test_authentication(upstream: Upstream) -> None:
    for headers, message in (
        ({"anthropic-version": "2023-06-01"}, "x-api-key header is required"),
        ({"x-api-key": "sk-invalid", "anthropic-version": "2023-06-01"}, "invalid x-api-key"),
    ):
        status, _, raw = _post(upstream, _body(), headers)
        assert status == 401
        assert json.loads(raw)["error"] == {"type": "authentication_error", "message": message}
    status, _, raw = _post(upstream, _body(), {"x-api-key": KEY})
    assert status == 400 and "anthropic-version" in json.loads(raw)["error"]["message"]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, "rate_limit_error"),
        (529, "overloaded_error"),
        (500, "api_error"),
        (404, "not_found_error"),
    ],
)
def test_status_faults(upstream: Upstream, status: int, kind: str) -> None:
    upstream.add_fault(model="claude-haiku-4-5", status=status, retry_after=3, count=1)
    got, headers, raw = _post(upstream, _body())
    assert got == status
    body = json.loads(raw)
    assert body["type"] == "error" and body["error"]["type"] == kind
    assert headers["retry-after"] == "3" and headers["request-id"] == body["request_id"]
    if status == 404:
        assert body["error"]["message"] == "model: claude-haiku-4-5"


def test_malformed_fault_is_a_mid_stream_error_event(upstream: Upstream) -> None:
    upstream.add_fault(model="claude-haiku-4-5", malformed_after_chunks=4, count=1)
    status, _, raw = _post(upstream, _body(stream=True))
    assert status == 200
    events = _events(raw)
    assert len(events) == 5 and events[-1] == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    upstream.add_fault(model="claude-haiku-4-5", malformed_after_chunks=4, count=1)
    with (
        pytest.raises(anthropic.APIStatusError),
        _client(upstream).messages.stream(
            model="claude-haiku-4-5", max_tokens=200, messages=HELLO
        ) as stream,
    ):
        "".join(stream.text_stream)


def test_thinking_is_optional_and_counted_as_output(upstream: Upstream) -> None:
    client = _client(upstream)
    plain = client.messages.create(
        model="claude-sonnet-4-20250514", max_tokens=4000, messages=HELLO
    )
    thought = client.messages.create(
        model="claude-sonnet-4-20250514",
        max_tokens=4000,
        messages=HELLO,
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    assert [b.type for b in plain.content] == ["text"]
    assert [b.type for b in thought.content] == ["thinking", "text"]
    thinking = thought.content[0]
    assert isinstance(thinking, anthropic.types.ThinkingBlock) and thinking.signature
    assert thought.usage.output_tokens - plain.usage.output_tokens in (64, 128)
    with client.messages.stream(
        model="claude-sonnet-4-20250514",
        max_tokens=4000,
        messages=HELLO,
        thinking={"type": "enabled", "budget_tokens": 1024},
    ) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.usage.output_tokens == thought.usage.output_tokens


def test_stop_sequence_and_max_tokens(upstream: Upstream) -> None:
    client = _client(upstream)
    full = client.messages.create(model="claude-haiku-4-5", max_tokens=200, messages=HELLO)
    assert isinstance(full.content[0], anthropic.types.TextBlock)
    stop = full.content[0].text.split(" ")[2]
    cut = client.messages.create(
        model="claude-haiku-4-5", max_tokens=200, messages=HELLO, stop_sequences=[stop]
    )
    assert (cut.stop_reason, cut.stop_sequence) == ("stop_sequence", stop)
    short = client.messages.create(model="claude-haiku-4-5", max_tokens=3, messages=HELLO)
    assert short.stop_reason == "max_tokens" and short.usage.output_tokens == 3
