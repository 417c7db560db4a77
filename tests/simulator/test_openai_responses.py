"""The simulator's OpenAI Responses API, read by the official `openai` SDK
(`responses.create`, `responses.stream`) and checked raw against OpenAI's own schema
(tests/fixtures/openai-openapi): every body, every stream event, every error."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from routeplex_gateway.simulator.answer import AFTER_TOOL_SENTENCE
from tests.simulator.conftest import API_KEY, Upstream
from tests.support.openai_schema import assert_event_valid, assert_responses_valid

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
        "required": ["city", "days"],
        "additionalProperties": False,
    },
}
CLOCK: Any = {"type": "function", "name": "get_time", "parameters": {"type": "object"}}


def post(upstream: Upstream, body: dict[str, Any] | bytes, key: str | None = API_KEY) -> Any:
    headers = {} if key is None else {"authorization": f"Bearer {key}"}
    return upstream.call("POST", "/v1/responses", body, headers)


def events(raw: bytes) -> list[dict[str, Any]]:
    """The events of a complete stream, each checked to be framed as OpenAI frames it
    (`event: <type>` then one `data:` line, LF, a blank line) and valid against the schema."""
    assert raw.endswith(b"\n\n") and b"\r" not in raw
    parsed = []
    for block in raw[:-2].split(b"\n\n"):
        name, data = block.split(b"\n")
        assert name.startswith(b"event: ") and data.startswith(b"data: "), block[:80]
        event = json.loads(data[len(b"data: ") :])
        assert event["type"] == name[len(b"event: ") :].decode()
        assert_event_valid(event)
        parsed.append(event)
    assert [e["sequence_number"] for e in parsed] == list(range(len(parsed)))
    return parsed


def body_of(upstream: Upstream, body: dict[str, Any]) -> dict[str, Any]:
    status, _, raw = post(upstream, body)
    assert status == 200, raw
    answer: dict[str, Any] = json.loads(raw)
    assert_responses_valid(answer, "Response")
    return answer


# --- the SDK reads every answer ---------------------------------------------------------------


def test_create_text_reads_with_the_sdk(upstream: Upstream) -> None:
    answer = upstream.client().responses.create(model="gpt-4o", input="Say something.")
    assert answer.status == "completed" and answer.object == "response"
    assert answer.output_text and answer.output[0].type == "message"
    usage = answer.usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0
    # The same request, raw: valid against OpenAI's schema, the same text and usage.
    raw = body_of(upstream, {"model": "gpt-4o", "input": "Say something."})
    assert raw["output"][0]["content"][0]["text"] == answer.output_text
    assert raw["usage"] == usage.model_dump(exclude_none=True)


def test_stream_text_reads_with_the_sdk(upstream: Upstream) -> None:
    client = upstream.client()
    with client.responses.stream(model="gpt-4o", input="Say something.") as stream:
        seen = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in seen]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [e.delta for e in seen if e.type == "response.output_text.delta"]
    assert len(deltas) > 3 and "".join(deltas) == final.output_text
    assert final.usage is not None and final.usage.output_tokens == len(deltas)
    assert [e.sequence_number for e in seen] == list(range(len(seen)))


def test_stream_raw_events_follow_the_schema(upstream: Upstream) -> None:
    status, headers, raw = post(upstream, {"model": "gpt-4o", "input": "hi", "stream": True})
    assert status == 200 and headers["content-type"] == "text/event-stream; charset=utf-8"
    found = events(raw)
    created, completed = found[0]["response"], found[-1]["response"]
    assert created["status"] == "in_progress" and "usage" not in created
    assert completed["status"] == "completed" and completed["usage"]["total_tokens"] > 0
    # Usage only at the end, as recorded; and the text of the deltas is the text done.
    assert all("usage" not in e.get("response", {}) for e in found[:-1])
    text = "".join(e["delta"] for e in found if e["type"] == "response.output_text.delta")
    done = next(e for e in found if e["type"] == "response.output_text.done")
    assert done["text"] == text == completed["output"][0]["content"][0]["text"]


def test_a_tool_call_then_its_result(upstream: Upstream) -> None:
    client = upstream.client()
    question = "What is the weather in Paris?"
    with client.responses.stream(model="gpt-4o", input=question, tools=[WEATHER]) as stream:
        seen = list(stream)
        final = stream.get_final_response()
    [call] = final.output
    assert call.type == "function_call" and call.name == "get_weather"
    arguments = json.loads(call.arguments)
    assert isinstance(arguments["city"], str) and arguments["days"] >= 1
    fragments = [e.delta for e in seen if e.type == "response.function_call_arguments.delta"]
    assert len(fragments) > 1 and "".join(fragments) == call.arguments
    done = next(e for e in seen if e.type == "response.function_call_arguments.done")
    # The function's name, which OpenAI's schema requires here (this SDK predates it).
    assert (done.arguments, done.to_dict()["name"]) == (call.arguments, "get_weather")
    # The next turn sends the call and its output back: the answer is text.
    follow_up = client.responses.create(
        model="gpt-4o",
        tools=[WEATHER],
        input=[
            {"role": "user", "content": question},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny."},
        ],
    )
    assert follow_up.output_text.startswith(AFTER_TOOL_SENTENCE)


def test_parallel_calls_are_two_items(upstream: Upstream) -> None:
    body = {"model": "gpt-4o", "input": "Call both in parallel.", "tools": [WEATHER, CLOCK]}
    answer = body_of(upstream, body)
    assert [item["name"] for item in answer["output"]] == ["get_weather", "get_time"]
    found = events(post(upstream, {**body, "stream": True})[2])
    added = [e for e in found if e["type"] == "response.output_item.added"]
    assert [e["output_index"] for e in added] == [0, 1]
    forced = body_of(upstream, {**body, "tool_choice": {"type": "function", "name": "get_time"}})
    assert [item["name"] for item in forced["output"]] == ["get_time"]


def test_a_reasoning_model_reports_its_reasoning(upstream: Upstream) -> None:
    body = {
        "model": "o3-mini",
        "input": "Think first.",
        "reasoning": {"effort": "low"},
        "include": ["reasoning.encrypted_content"],
    }
    answer = body_of(upstream, body)
    reasoning, message = answer["output"]
    assert reasoning["type"] == "reasoning" and reasoning["summary"] == []
    assert reasoning["encrypted_content"]  # what a stateless client sends back next turn
    assert message["type"] == "message"
    usage = answer["usage"]
    assert usage["output_tokens_details"]["reasoning_tokens"] in (64, 128)
    assert usage["output_tokens"] > usage["output_tokens_details"]["reasoning_tokens"]
    assert answer["reasoning"] == {"effort": "low", "summary": None}
    plain = body_of(upstream, {**body, "include": []})
    assert "encrypted_content" not in plain["output"][0]
    streamed = events(post(upstream, {**body, "stream": True})[2])
    assert [e["item"]["type"] for e in streamed if e["type"] == "response.output_item.done"] == [
        "reasoning",
        "message",
    ]


def test_the_output_cap_ends_the_response_incomplete(upstream: Upstream) -> None:
    body = {"model": "gpt-4o", "input": "Say a lot.", "max_output_tokens": 16}
    answer = body_of(upstream, body)
    assert answer["status"] == "incomplete"
    assert answer["incomplete_details"] == {"reason": "max_output_tokens"}
    assert answer["usage"]["output_tokens"] == 16 and answer["max_output_tokens"] == 16
    found = events(post(upstream, {**body, "stream": True})[2])
    assert found[-1]["type"] == "response.incomplete"
    assert found[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_structured_output_follows_the_schema(upstream: Upstream) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    text_format: Any = {"type": "json_schema", "name": "person", "schema": schema, "strict": True}
    answer = upstream.client().responses.create(
        model="gpt-4o", input="A person.", text={"format": text_format}
    )
    value = json.loads(answer.output_text)
    assert isinstance(value["name"], str) and value["age"] >= 0
    assert answer.text is not None and answer.text.format.type == "json_schema"


def test_the_response_repeats_the_requests_settings(upstream: Upstream) -> None:
    body = {
        "model": "gpt-4o",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "instructions": "Be brief.",
        "store": False,
        "temperature": 0.5,
        "top_p": 0.9,
        "metadata": {"ticket": "7"},
        "user": "caller-7",
        "parallel_tool_calls": False,
        "tools": [WEATHER],
        "tool_choice": "none",
    }
    answer = body_of(upstream, body)
    for name in ("instructions", "store", "temperature", "top_p", "metadata", "user"):
        assert answer[name] == body[name], name
    assert answer["parallel_tool_calls"] is False and answer["tool_choice"] == "none"
    assert answer["tools"] == [{**WEATHER, "strict": True}]
    assert answer["output"][0]["type"] == "message"  # tool_choice none: no call


# --- refusals: OpenAI's messages, codes and params ------------------------------------------


CHAT_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
REFUSED: list[tuple[dict[str, Any], str | None, str | None]] = [
    ({"messages": [{"role": "user", "content": "hi"}]}, "messages", "unknown_parameter"),
    ({"input": "hi", "max_tokens": 100}, "max_tokens", "unknown_parameter"),
    ({}, "input", "missing_required_parameter"),
    ({"input": 7}, "input", "invalid_type"),
    ({"input": "hi", "tools": [CHAT_TOOL]}, "tools[0].name", "missing_required_parameter"),
    ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role", "invalid_value"),
    (
        {"input": [{"role": "assistant", "content": "", "tool_calls": []}]},
        "input[0].tool_calls",
        "unknown_parameter",
    ),
    ({"input": [{"type": "function_call_output"}]}, "input[0].call_id", None),
    # An output whose call is not sent along: a stateless API has nothing to find it in.
    ({"input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}, "input", None),
    ({"input": "hi", "max_output_tokens": 5}, "max_output_tokens", "integer_below_min_value"),
    ({"input": "hi", "top_p": 1.5}, "top_p", "decimal_above_max_value"),
    ({"input": "hi", "reasoning": {"effort": "low"}}, "reasoning.effort", None),
    ({"input": "hi", "previous_response_id": "resp_1"}, "previous_response_id", None),
    ({"input": "hi", "stream_options": {}}, "stream_options", None),
    ({"input": "hi", "text": {"format": {"type": "json_schema"}}}, "text.format.name", None),
    ({"input": "hi", "tool_choice": "sometimes"}, "tool_choice", "invalid_value"),
]


@pytest.mark.parametrize(("body", "param", "code"), REFUSED)
def test_invalid_requests_get_openais_400(
    upstream: Upstream, body: dict[str, Any], param: str, code: str | None
) -> None:
    status, _, raw = post(upstream, {"model": "gpt-4o", **body})
    assert status == 400, raw
    error = json.loads(raw)
    assert_responses_valid(error, "ErrorResponse")
    assert error["error"]["param"] == param and error["error"]["type"] == "invalid_request_error"
    if code is not None:
        assert error["error"]["code"] == code
    with pytest.raises(openai.BadRequestError):
        upstream.client().responses.create(model="gpt-4o", extra_body=body)


def test_missing_model_and_bad_json(upstream: Upstream) -> None:
    status, _, raw = post(upstream, {"input": "hi"})
    assert status == 400 and json.loads(raw)["error"]["param"] == "model"
    status, _, raw = post(upstream, b"{not json")
    assert status == 400 and "could not parse the JSON body" in json.loads(raw)["error"]["message"]


def test_keys_are_checked_first(upstream: Upstream) -> None:
    for key in (None, "sk-invalid"):
        status, _, raw = post(upstream, {"model": "gpt-4o", "input": "hi"}, key=key)
        assert status == 401, raw
        assert_responses_valid(json.loads(raw), "ErrorResponse")
    refused = openai.OpenAI(base_url=upstream.url + "/v1", api_key="sk-invalid", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        refused.responses.create(model="gpt-4o", input="hi")


def test_nothing_is_stored_to_fetch(upstream: Upstream) -> None:
    for method in ("GET", "DELETE"):
        status, _, raw = upstream.call(
            method, "/v1/responses/resp_123", headers={"authorization": f"Bearer {API_KEY}"}
        )
        assert status == 404 and "not found" in json.loads(raw)["error"]["message"]
    with pytest.raises(openai.NotFoundError):
        upstream.client().responses.retrieve("resp_123")


# --- faults, as the chat endpoint has them ---------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, openai.BadRequestError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_status_faults(upstream: Upstream, status: int, error: type[Exception]) -> None:
    upstream.add_fault(model="gpt-4o", status=status, count=1)
    with pytest.raises(error):
        upstream.client().responses.create(model="gpt-4o", input="hi")
    assert upstream.client().responses.create(model="gpt-4o", input="hi").output_text


def test_a_status_fault_on_a_stream_is_json(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", status=429, code="insufficient_quota", count=1)
    status, headers, raw = post(upstream, {"model": "gpt-4o", "input": "hi", "stream": True})
    assert status == 429 and headers["content-type"] == "application/json"
    error = json.loads(raw)
    assert_responses_valid(error, "ErrorResponse")
    assert error["error"]["code"] == "insufficient_quota"


def test_a_cut_stream_ends_without_its_final_event(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", cut_after_chunks=6, count=1)
    client = upstream.client()
    with (
        pytest.raises(openai.APIConnectionError),
        client.responses.stream(model="gpt-4o", input="hi") as stream,
    ):
        for _ in stream:
            pass


def test_a_mid_stream_failure_is_an_error_event_then_response_failed(upstream: Upstream) -> None:
    """As recorded (responses_stream_error_insufficient_quota): HTTP 200, some events, then
    `error` and `response.failed`, numbered on from where they broke in."""
    upstream.add_fault(model="gpt-4o", malformed_after_chunks=5, count=1)
    status, _, raw = post(upstream, {"model": "gpt-4o", "input": "hi", "stream": True})
    assert status == 200
    found = events(raw)
    ending = ["response.output_text.delta", "error", "response.failed"]
    assert [e["type"] for e in found[4:]] == ending
    error, failed = found[-2:]
    assert error["error"]["message"] == error["message"] and error["code"] == "server_error"
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"]["message"] == error["message"]
    # The SDK raises it as the API's error.
    upstream.add_fault(model="gpt-4o", malformed_after_chunks=5, count=1)
    with (
        pytest.raises(openai.APIError, match="error while processing"),
        upstream.client().responses.stream(model="gpt-4o", input="hi") as stream,
    ):
        for _ in stream:
            pass


def test_a_hung_request_times_out(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", hang=True, count=1)
    with pytest.raises(openai.APITimeoutError):
        upstream.client(timeout=0.5).responses.create(model="gpt-4o", input="hi")


def test_a_stalled_stream_times_out_after_its_first_events(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", stall_after_chunks=4, count=1)
    seen: list[str] = []
    with (
        pytest.raises(openai.APITimeoutError),
        upstream.client(timeout=0.5).responses.stream(model="gpt-4o", input="hi") as stream,
    ):
        for event in stream:
            seen.append(event.type)
    assert seen == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]


def test_obfuscation_can_be_turned_off(upstream: Upstream) -> None:
    body = {"model": "gpt-4o", "input": "hi", "stream": True}
    padded = events(post(upstream, body)[2])
    plain = events(post(upstream, {**body, "stream_options": {"include_obfuscation": False}})[2])
    kinds = ("response.output_text.delta",)
    assert all("obfuscation" in e for e in padded if e["type"] in kinds)
    assert not any("obfuscation" in e for e in plain)
