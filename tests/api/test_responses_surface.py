"""OpenAI's Responses surface end to end: the official `openai` SDK (`responses.create`,
`responses.stream`) → gateway → simulator, over real sockets, with GPT, Claude and Gemini
models behind it; every answer and every stream event checked against OpenAI's own schema,
and every request's metadata row matched by its request id."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import RunningGateway
from tests.support.openai_schema import assert_event_valid, assert_responses_valid

PROMPT = "Explain the difference between a list and a tuple, please. heron-canary-6620"
MODELS = ("gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash")
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
# A 1x1 PNG.
PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def client(gw: RunningGateway, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key or gw.keys["alice"], max_retries=0)


def post(gw: RunningGateway, body: object, path: str = "/v1/responses") -> httpx.Response:
    headers = {"Authorization": f"Bearer {gw.keys['alice']}"}
    return httpx.post(f"{gw.url}{path}", json=body, headers=headers, timeout=20)


def events(response: httpx.Response) -> list[dict[str, Any]]:
    """The SSE events of a raw stream, each checked: its `event:` line names its `type`."""
    out = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        name, data = block.split("\n", 1)
        assert name.startswith("event: ") and data.startswith("data: "), block[:80]
        payload = json.loads(data.removeprefix("data: "))
        assert payload["type"] == name.removeprefix("event: ")
        out.append(payload)
    return out


def checked_stream(gw: RunningGateway, body: dict[str, Any]) -> list[dict[str, Any]]:
    """A raw streamed answer's events, every one valid by OpenAI's schema, numbered 0, 1, …"""
    response = post(gw, {**body, "stream": True})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    found = events(response)
    for event in found:
        assert_event_valid(event)
    assert [e["sequence_number"] for e in found] == list(range(len(found)))
    return found


@pytest.mark.parametrize("model", MODELS)
def test_create_answers_a_valid_response_with_one_row(gateway: RunningGateway, model: str) -> None:
    raw = client(gateway).responses.with_raw_response.create(model=model, input=PROMPT)
    response = raw.parse()
    body = raw.http_response.json()
    assert_responses_valid(body, "Response")
    assert response.object == "response" and response.id.startswith("resp_")
    assert response.status == "completed" and response.store is False
    assert response.output_text
    message = response.output[0]
    assert message.type == "message" and message.content[0].type == "output_text"
    usage = response.usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    extra = body["x_routeplex"]
    request_id = raw.headers["x-request-id"]
    assert extra["request_id"] == request_id and extra["model_used"] == model
    assert extra["cost_usd"] > 0
    assert float(raw.headers["x-routeplex-cost-usd"]) == pytest.approx(extra["cost_usd"])
    (row,) = gateway.metadata(expect=1)
    assert row["request_id"] == request_id and row["endpoint"] == "openai.responses"
    assert row["served_model"] == model and row["http_status"] == 200
    assert row["input_tokens"] == usage.input_tokens
    assert row["output_tokens"] == usage.output_tokens
    assert row["cost_picousd"] > 0


@pytest.mark.parametrize("model", MODELS)
def test_stream_is_the_semantic_event_sequence(gateway: RunningGateway, model: str) -> None:
    found = checked_stream(gateway, {"model": model, "input": PROMPT})
    names = [event["type"] for event in found]
    assert names[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert names[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    text = "".join(e["delta"] for e in found if e["type"] == "response.output_text.delta")
    done = found[-1]["response"]
    assert done["status"] == "completed" and done["store"] is False
    assert done["output"][0]["content"][0]["text"] == text and text
    assert done["usage"]["output_tokens"] > 0
    assert done["x_routeplex"]["model_used"] == model
    (row,) = gateway.metadata(expect=1)
    assert row["endpoint"] == "openai.responses" and row["http_status"] == 200
    assert row["output_tokens"] == done["usage"]["output_tokens"]


@pytest.mark.parametrize("model", MODELS)
def test_sdk_stream_helper_gets_the_final_response(gateway: RunningGateway, model: str) -> None:
    deltas: list[str] = []
    with client(gateway).responses.stream(model=model, input=PROMPT) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert final.output_text == "".join(deltas) and deltas
    assert final.usage is not None and final.usage.output_tokens > 0
    assert final.status == "completed"
    (row,) = gateway.metadata(expect=1)
    assert row["output_tokens"] == final.usage.output_tokens


@pytest.mark.parametrize("model", MODELS)
def test_function_tool_round_trip(gateway: RunningGateway, model: str) -> None:
    sdk = client(gateway)
    history: list[Any] = [
        {"role": "user", "content": "What is the weather in Paris? Use the tool. heron-canary-6620"}
    ]
    first = sdk.responses.create(model=model, input=history, tools=[WEATHER_TOOL])
    assert_responses_valid(first.model_dump(mode="json", exclude_unset=True), "Response")
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "get_weather" and isinstance(json.loads(call.arguments), dict)
    assert call.call_id and call.status == "completed"
    history += [item.model_dump(exclude_none=True) for item in first.output]
    history.append({"type": "function_call_output", "call_id": call.call_id, "output": "18 C"})
    second = sdk.responses.create(model=model, input=history, tools=[WEATHER_TOOL])
    assert second.status == "completed" and second.output_text
    assert not any(item.type == "function_call" for item in second.output)
    assert len(gateway.metadata(expect=2)) == 2


@pytest.mark.parametrize("model", MODELS)
def test_streamed_function_call(gateway: RunningGateway, model: str) -> None:
    found = checked_stream(
        gateway,
        {
            "model": model,
            "input": "What is the weather in Paris? Use the tool.",
            "tools": [WEATHER_TOOL],
            "tool_choice": "required",
        },
    )
    added = [e for e in found if e["type"] == "response.output_item.added"]
    assert added and added[0]["item"]["type"] == "function_call"
    arguments = "".join(
        e["delta"] for e in found if e["type"] == "response.function_call_arguments.delta"
    )
    (done,) = [e for e in found if e["type"] == "response.function_call_arguments.done"][:1]
    assert done["arguments"] == arguments and done["name"] == "get_weather"
    final = found[-1]["response"]
    assert final["output"][0]["type"] == "function_call"
    assert json.loads(final["output"][0]["arguments"]) == json.loads(arguments)


@pytest.mark.parametrize("model", MODELS)
def test_json_schema_format(gateway: RunningGateway, model: str) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    response = client(gateway).responses.create(
        model=model,
        input="Name a large city.",
        text={"format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}},
    )
    value = json.loads(response.output_text)
    assert set(value) == {"city", "population"} and isinstance(value["population"], int)
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_schema"


@pytest.mark.parametrize("model", MODELS)
def test_max_output_tokens_answers_incomplete(gateway: RunningGateway, model: str) -> None:
    raw = client(gateway).responses.with_raw_response.create(
        model=model, input=PROMPT, max_output_tokens=16
    )
    response = raw.parse()
    assert_responses_valid(raw.http_response.json(), "Response")
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    found = checked_stream(gateway, {"model": model, "input": PROMPT, "max_output_tokens": 16})
    assert found[-1]["type"] == "response.incomplete"
    assert found[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


@pytest.mark.parametrize("model", ("o3-mini", "gemini-2.5-flash"))
def test_reasoning_effort_counts_reasoning_tokens(gateway: RunningGateway, model: str) -> None:
    raw = client(gateway).responses.with_raw_response.create(
        model=model, input=PROMPT, reasoning={"effort": "high"}, max_output_tokens=4000
    )
    response = raw.parse()
    assert_responses_valid(raw.http_response.json(), "Response")
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens > 0
    assert response.reasoning is not None and response.reasoning.effort == "high"
    (row,) = gateway.metadata(expect=1)
    assert row["reasoning_tokens"] == response.usage.output_tokens_details.reasoning_tokens


def test_claude_thinking_is_a_reasoning_item_that_goes_back(gateway: RunningGateway) -> None:
    """Claude's signed thinking comes back as a reasoning item (its signature sealed in
    `encrypted_content` when asked for), and sent back in the next turn it is Claude's
    thinking block again: the tool loop of a thinking model keeps its thread."""
    sdk = client(gateway)
    history: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    options: dict[str, Any] = {
        "model": "claude-sonnet-4",
        "tools": [WEATHER_TOOL],
        "reasoning": {"effort": "medium"},
        "max_output_tokens": 8000,
        "include": ["reasoning.encrypted_content"],
    }
    raw = sdk.responses.with_raw_response.create(input=history, **options)
    first = raw.parse()
    assert_responses_valid(raw.http_response.json(), "Response")
    reasoning = next(item for item in first.output if item.type == "reasoning")
    assert reasoning.summary and reasoning.summary[0].text
    assert reasoning.encrypted_content and reasoning.encrypted_content.startswith("routeplex:")
    call = next(item for item in first.output if item.type == "function_call")
    history += [item.model_dump(exclude_none=True) for item in first.output]
    history.append({"type": "function_call_output", "call_id": call.call_id, "output": "18 C"})
    second = sdk.responses.create(input=history, **options)
    assert second.status == "completed" and second.output_text
    streamed = checked_stream(gateway, {**options, "input": history})
    kinds = [e["item"]["type"] for e in streamed if e["type"] == "response.output_item.done"]
    assert "message" in kinds
    assert len(gateway.metadata(expect=3)) == 3


@pytest.mark.parametrize("model", MODELS)
def test_instructions_and_images(gateway: RunningGateway, model: str) -> None:
    response = client(gateway).responses.create(
        model=model,
        instructions="Answer in one sentence.",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is in this picture?"},
                    {"type": "input_image", "image_url": PIXEL, "detail": "low"},
                ],
            }
        ],
    )
    assert response.status == "completed" and response.output_text
    assert response.instructions == "Answer in one sentence."
    assert response.usage is not None and response.usage.input_tokens > 0


def test_metadata_user_and_store_are_accepted_never_stored(gateway: RunningGateway) -> None:
    response = client(gateway).responses.create(
        model="gpt-4o-mini",
        input="hello",
        metadata={"ticket": "osprey-canary-1187"},
        user="user-osprey-canary-1187",
        store=True,
        include=["reasoning.encrypted_content"],
    )
    assert response.store is False
    assert response.metadata == {"ticket": "osprey-canary-1187"}
    gateway.metadata(expect=1)
    assert b"osprey-canary-1187" not in gateway.stored_bytes()


def test_routeplex_ai_routes_responses_too(gateway: RunningGateway) -> None:
    raw = client(gateway).responses.with_raw_response.create(model="routeplex-ai", input="hi")
    body = raw.http_response.json()
    assert_responses_valid(body, "Response")
    assert body["x_routeplex"]["routing_mode"] == "routeplex-ai"
    (row,) = gateway.metadata(expect=1)
    assert row["requested_model"] == "routeplex-ai" and row["endpoint"] == "openai.responses"


@pytest.mark.parametrize("model", MODELS)
def test_sdk_create_with_stream_yields_typed_events(gateway: RunningGateway, model: str) -> None:
    stream = client(gateway).responses.create(model=model, input=PROMPT, stream=True)
    found = [event.model_dump(mode="json", exclude_unset=True) for event in stream]
    for event in found:
        assert_event_valid(event)
    assert found[0]["type"] == "response.created" and found[-1]["type"] == "response.completed"
    assert [e["sequence_number"] for e in found] == list(range(len(found)))
    assert len(gateway.metadata(expect=1)) == 1


@pytest.mark.parametrize("model", MODELS)
def test_a_named_function_choice_is_called(gateway: RunningGateway, model: str) -> None:
    other = {**WEATHER_TOOL, "name": "get_time", "description": "The time in a city"}
    options: dict[str, Any] = {
        "model": model,
        "input": "Hello there.",
        "tools": [WEATHER_TOOL, other],
        "tool_choice": {"type": "function", "name": "get_time"},
    }
    response = client(gateway).responses.create(**options)
    calls = [item for item in response.output if item.type == "function_call"]
    assert [call.name for call in calls] == ["get_time"]
    assert response.tool_choice is not None
    if model.startswith("gemini"):
        # Gemini cannot be held to one call per turn: a 400 says so rather than ignore it.
        with pytest.raises(openai.BadRequestError, match="parallel_tool_calls"):
            client(gateway).responses.create(**options, parallel_tool_calls=False)
    else:
        single = client(gateway).responses.create(**options, parallel_tool_calls=False)
        assert single.parallel_tool_calls is False


@pytest.mark.parametrize("model", MODELS)
def test_json_object_format(gateway: RunningGateway, model: str) -> None:
    response = client(gateway).responses.create(
        model=model,
        input="Describe a city as a JSON object.",
        text={"format": {"type": "json_object"}},
    )
    assert isinstance(json.loads(response.output_text), dict)


def test_only_anthropic_thinking_comes_back_sealed(gateway: RunningGateway) -> None:
    """A Gemini thought signature rides in its call ids, not in a reasoning item: sealing
    it would hand Claude a signature it cannot verify if the thread moved there."""
    response = client(gateway).responses.create(
        model="gemini-2.5-flash",
        input=PROMPT,
        reasoning={"effort": "high"},
        include=["reasoning.encrypted_content"],
        max_output_tokens=4000,
    )
    reasoning = [item for item in response.output if item.type == "reasoning"]
    assert all(item.encrypted_content is None for item in reasoning)
    assert response.usage is not None and response.usage.output_tokens_details.reasoning_tokens
