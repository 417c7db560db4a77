"""One end-to-end suite, run against an OpenAI, an Anthropic and a Gemini catalog model: the
official `openai` SDK → gateway → the simulator speaking each provider's own wire format.

Whichever provider serves a request, the caller sees the same OpenAI shapes (checked against
OpenAI's schema), `x_routeplex.provider` names the provider, the final stream chunk carries the
usage, and the metadata row holds the provider's token counts and a cost.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema
import openai
import pytest

from tests.conftest import RunningGateway
from tests.support.openai_schema import assert_valid


@dataclass(frozen=True)
class Case:
    model: str
    provider: str
    upstream_path: str  # where the simulator receives this provider's requests
    bad_key_fault: dict[str, Any]  # how the provider says the gateway's key is bad
    break_fault: dict[str, Any]  # how its stream fails after HTTP 200
    reasoning: bool  # whether the simulated model thinks (reasoning tokens)
    cache_write: int | None  # what the provider says about cache writes


CASES = [
    Case(
        "gpt-4o-mini",
        "openai",
        "/v1/chat/completions",
        {"status": 401},
        {"cut_after_chunks": 3},
        reasoning=False,
        cache_write=None,
    ),
    Case(
        "claude-3-5-haiku-20241022",
        "anthropic",
        "/v1/messages",
        {"status": 401},
        {"malformed_after_chunks": 5},  # Anthropic's mid-stream `event: error`, after text
        reasoning=False,
        cache_write=0,
    ),
    Case(
        "gemini-2.5-flash",
        "google",
        "/v1beta/models/gemini-2.5-flash:",
        {"status": 400, "code": "API_KEY_INVALID"},
        {"cut_after_chunks": 3},
        reasoning=True,
        cache_write=None,
    ),
]
HELLO = [{"role": "user", "content": "hello"}]
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
    "required": ["city", "unit"],
}
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER},
}
CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
    "additionalProperties": False,
}
PIXEL = base64.b64encode(bytes.fromhex("89504e470d0a1a0a0000000d49484452")).decode()


@pytest.fixture(params=CASES, ids=[c.provider for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    value: Case = request.param
    return value


def _client(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.keys["alice"], max_retries=0)


def _fault(gw: RunningGateway, case: Case, **fault: Any) -> None:
    response = httpx.post(
        f"{gw.simulator_url}/_simulator/faults",
        json={"model": case.model, "count": 1, **fault},
    )
    assert response.status_code == 201, response.text


def _upstream_body(gw: RunningGateway, case: Case) -> dict[str, Any]:
    seen = httpx.get(f"{gw.simulator_url}/_simulator/requests").json()["requests"]
    bodies = [r["body"] for r in seen if r["path"].startswith(case.upstream_path)]
    body: dict[str, Any] = bodies[-1]
    return body


def _stream(gw: RunningGateway, case: Case, **options: Any) -> list[Any]:
    chunks = list(_client(gw).chat.completions.create(model=case.model, stream=True, **options))
    for chunk in chunks:
        assert_valid(chunk.model_dump(exclude_unset=True), "CreateChatCompletionStreamResponse")
    return chunks


def _streamed_text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def _check_row(row: Any, case: Case, usage: Any) -> None:
    assert row["provider"] == case.provider and row["served_model"] == case.model
    assert row["input_tokens"] == usage.prompt_tokens
    assert row["output_tokens"] == usage.completion_tokens
    assert row["cache_read_tokens"] == 0
    assert row["cache_write_tokens"] == case.cache_write
    reasoning = usage.completion_tokens_details.reasoning_tokens
    if case.reasoning:
        assert reasoning > 0 and row["reasoning_tokens"] == reasoning
    else:
        assert not reasoning and row["reasoning_tokens"] in (None, 0)
    assert row["cost_picousd"] > 0
    assert row["error_code"] is None


def test_plain_and_streaming(gateway: RunningGateway, case: Case) -> None:
    reply = _client(gateway).chat.completions.create(model=case.model, messages=HELLO)
    body = reply.model_dump(exclude_unset=True)
    assert_valid(body, "CreateChatCompletionResponse")
    assert reply.choices[0].message.content and reply.choices[0].finish_reason == "stop"
    assert reply.model == case.model  # as the provider reported it
    assert body["x_routeplex"]["provider"] == case.provider
    assert body["x_routeplex"]["model_used"] == case.model and body["x_routeplex"]["cost_usd"] > 0
    assert reply.usage is not None
    # The simulator counts the same conversation alike in every format: 8 prompt tokens.
    assert reply.usage.prompt_tokens == 8

    chunks = _stream(gateway, case, messages=HELLO)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert _streamed_text(chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None  # usage although not asked for
    extra = last.model_dump()["x_routeplex"]
    assert extra["provider"] == case.provider and extra["cost_usd"] > 0
    assert last.usage.prompt_tokens == 8

    first, second = gateway.metadata(expect=2, timeout=15)
    _check_row(first, case, reply.usage)
    _check_row(second, case, last.usage)
    assert second["ttfb_ms"] is not None


def test_tool_calls_and_tool_results(gateway: RunningGateway, case: Case) -> None:
    question = {"role": "user", "content": "What is the weather in Paris?"}
    reply = _client(gateway).chat.completions.create(
        model=case.model, messages=[question], tools=[WEATHER_TOOL], tool_choice="required"
    )
    assert_valid(reply.model_dump(exclude_unset=True), "CreateChatCompletionResponse")
    assert reply.choices[0].finish_reason == "tool_calls"
    [call] = reply.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather" and call.id
    jsonschema.validate(json.loads(call.function.arguments), WEATHER)

    chunks = _stream(gateway, case, messages=[question], tools=[WEATHER_TOOL])
    fragments: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or ():
                entry = fragments.setdefault(tc.index, {"name": "", "arguments": ""})
                if tc.function and tc.function.name:
                    entry["name"] = tc.function.name
                entry["arguments"] += (tc.function.arguments or "") if tc.function else ""
    assert [f["name"] for f in fragments.values()] == ["get_weather"]
    jsonschema.validate(json.loads(fragments[0]["arguments"]), WEATHER)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"

    follow_up: list[Any] = [
        question,
        reply.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 18}'},
    ]
    answer = _client(gateway).chat.completions.create(
        model=case.model, messages=follow_up, tools=[WEATHER_TOOL]
    )
    assert answer.choices[0].message.content and answer.choices[0].finish_reason == "stop"
    upstream = _upstream_body(gateway, case)
    if case.provider == "anthropic":
        result = upstream["messages"][-1]["content"][0]
        assert result == {
            "type": "tool_result",
            "tool_use_id": call.id,
            "content": '{"temp_c": 18}',
        }
    elif case.provider == "google":
        [response] = upstream["contents"][-1]["parts"]
        assert response == {"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}}
    chunks = _stream(gateway, case, messages=follow_up, tools=[WEATHER_TOOL])
    assert _streamed_text(chunks) and chunks[-1].usage is not None
    rows = gateway.metadata(expect=4, timeout=15)
    assert [r["http_status"] for r in rows] == [200] * 4
    assert all(r["output_tokens"] and r["cost_picousd"] for r in rows)
    assert b"temp_c" not in gateway.stored_bytes()


def test_images_by_url_and_base64(gateway: RunningGateway, case: Case) -> None:
    for url in ("https://example.com/cat.png", f"data:image/png;base64,{PIXEL}"):
        content = [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": url}},
        ]
        reply = _client(gateway).chat.completions.create(
            model=case.model, messages=[{"role": "user", "content": content}]
        )
        assert reply.choices[0].message.content
        sent = json.dumps(_upstream_body(gateway, case))
        assert (PIXEL if url.startswith("data:") else url) in sent
    upstream = _upstream_body(gateway, case)
    if case.provider == "anthropic":
        image = upstream["messages"][0]["content"][1]
        assert image["source"] == {"type": "base64", "media_type": "image/png", "data": PIXEL}
    elif case.provider == "google":
        assert upstream["contents"][0]["parts"][1] == {
            "inlineData": {"mimeType": "image/png", "data": PIXEL}
        }


def test_json_mode_and_json_schema(gateway: RunningGateway, case: Case) -> None:
    messages = [{"role": "user", "content": "Name a big city."}]
    plain = _client(gateway).chat.completions.create(
        model=case.model, messages=messages, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(plain.choices[0].message.content or ""), dict)
    assert plain.choices[0].finish_reason == "stop"
    schema_format: Any = {
        "type": "json_schema",
        "json_schema": {"name": "city", "schema": CITY, "strict": True},
    }
    shaped = _client(gateway).chat.completions.create(
        model=case.model, messages=messages, response_format=schema_format
    )
    assert_valid(shaped.model_dump(exclude_unset=True), "CreateChatCompletionResponse")
    jsonschema.validate(json.loads(shaped.choices[0].message.content or ""), CITY)
    assert shaped.choices[0].message.tool_calls is None
    upstream = _upstream_body(gateway, case)
    if case.provider == "anthropic":  # a forced answer tool whose input is the JSON
        assert upstream["tool_choice"] == {"type": "tool", "name": "json_answer"}
        assert upstream["tools"][0]["input_schema"] == CITY
    elif case.provider == "google":
        config = upstream["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert config["responseJsonSchema"] == CITY
    chunks = _stream(gateway, case, messages=messages, response_format=schema_format)
    jsonschema.validate(json.loads(_streamed_text(chunks)), CITY)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_upstream_errors(gateway: RunningGateway, case: Case) -> None:
    def fails(**fault: Any) -> openai.APIStatusError:
        _fault(gateway, case, **fault)
        with pytest.raises(openai.APIStatusError) as raised:
            _client(gateway).chat.completions.create(model=case.model, messages=HELLO)
        assert_valid(raised.value.response.json(), "ErrorResponse")
        return raised.value

    bad_request = fails(status=400)
    assert (bad_request.status_code, bad_request.code) == (400, "bad_request")
    bad_key = fails(**case.bad_key_fault)
    assert (bad_key.status_code, bad_key.code) == (502, "provider_error")
    assert "gateway's credentials" in bad_key.message  # not the caller's own auth failure
    limited = fails(status=429, retry_after=7)
    assert (limited.status_code, limited.code) == (503, "provider_unavailable")
    assert limited.response.headers["retry-after"] == "7"
    server = fails(status=500)
    assert (server.status_code, server.code) == (502, "provider_error")

    _fault(gateway, case, **case.break_fault)
    with pytest.raises(openai.APIError):
        list(
            _client(gateway).chat.completions.create(model=case.model, messages=HELLO, stream=True)
        )

    rows = gateway.metadata(expect=5, timeout=15)
    # Anthropic's mid-stream failure is its `overloaded_error` event: provider_unavailable.
    broke = "provider_unavailable" if case.provider == "anthropic" else "provider_error"
    assert [r["error_code"] for r in rows] == [
        "bad_request",
        "provider_error",
        "provider_unavailable",
        "provider_error",
        broke,
    ]
    assert [r["http_status"] for r in rows[:4]] == [400, 502, 503, 502]
    assert all(r["provider"] == case.provider for r in rows)
    broken = rows[-1]
    assert broken["output_tokens"] is None and broken["cost_picousd"] is None  # unknown, not 0


def test_every_public_view_names_the_provider_as_the_sdk_does(
    gateway: RunningGateway, case: Case
) -> None:
    # Configuration says `gemini` (GEMINI_API_KEY, kind = "gemini"); the public API, like
    # RoutePlex's official SDK, says `google`. The chat paths are checked above and below.
    catalog = httpx.get(f"{gateway.url}/api/v1/models").json()["data"]
    assert {m["id"]: m["provider"] for m in catalog}[case.model] == case.provider
    listed = {m.id: m.owned_by for m in _client(gateway).models.list()}
    assert listed[case.model] == case.provider
    answer = httpx.post(
        f"{gateway.url}/api/v1/chat",
        json={"messages": HELLO, "model": case.model},
        headers={"Authorization": f"Bearer {gateway.keys['alice']}"},
        timeout=10,
    ).json()["data"]
    assert answer["provider"] == case.provider
    assert gateway.metadata(expect=1, timeout=15)[0]["provider"] == case.provider


def test_native_dialect_stream(gateway: RunningGateway, case: Case) -> None:
    body = {"messages": HELLO, "model": case.model, "stream": True, "stream_mode": "realtime"}
    with httpx.stream(
        "POST",
        f"{gateway.url}/api/v1/chat",
        json=body,
        timeout=10,
        headers={"Authorization": f"Bearer {gateway.keys['alice']}"},
    ) as response:
        assert response.status_code == 200
        raw = response.read().decode()
    events = [block[len("data: ") :] for block in raw.split("\n\n") if block.startswith("data: ")]
    assert events[-1] == "[DONE]"
    typed = [json.loads(e) for e in events[:-1]]
    assert typed[0]["type"] == "start"
    assert "".join(e["content"] for e in typed if e["type"] == "delta")
    done = typed[-1]
    assert done["type"] == "done" and done["provider"] == case.provider
    assert done["model_used"] == case.model and done["finish_reason"] == "stop"
    assert done["usage"]["input_tokens"] == 8 and done["usage"]["cost_usd"] > 0
    if case.reasoning:
        assert done["usage"]["internal_reasoning_tokens"] > 0
    row = gateway.metadata(expect=1, timeout=15)[0]
    assert row["output_tokens"] == done["usage"]["output_tokens"]
