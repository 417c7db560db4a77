"""The Responses surface with an OpenAI model behind it, end to end over real sockets: the
official `openai` SDK → gateway → the simulator's own Responses API. The caller's body reaches
OpenAI's `/v1/responses` with only the model, `stream`, `store` and the gateway's cap changed;
the answer and every stream event come back as OpenAI sent them (`store` false,
`x_routeplex` added); upstream failures end as the chat path's do, each request with exactly
one metadata row."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import RunningGateway
from tests.support.named_events import named_events
from tests.support.openai_schema import assert_event_valid, assert_responses_valid

MODEL = "gpt-4o-mini"
PROMPT = "Tell me about lists and tuples. heron-canary-7741"
WEATHER: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def client(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.keys["alice"], max_retries=0)


def post(gw: RunningGateway, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {gw.keys['alice']}"}
    return httpx.post(f"{gw.url}/v1/responses", json=body, headers=headers, timeout=20)


def upstream_requests(gw: RunningGateway) -> list[dict[str, Any]]:
    seen = httpx.get(f"{gw.simulator_url}/_simulator/requests").json()["requests"]
    httpx.delete(f"{gw.simulator_url}/_simulator/requests")
    found: list[dict[str, Any]] = seen
    return found


def fault(gw: RunningGateway, **spec: Any) -> None:
    response = httpx.post(f"{gw.simulator_url}/_simulator/faults", json={"model": MODEL, **spec})
    assert response.status_code == 201, response.text


def events(text: str) -> list[dict[str, Any]]:
    found = named_events(text)
    for payload in found:
        assert_event_valid(payload)
    return found


def test_the_callers_body_reaches_openai_and_comes_back_as_sent(gateway: RunningGateway) -> None:
    upstream_requests(gateway)
    body = {
        "model": MODEL,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": PROMPT}]}],
        "instructions": "Be brief.",
        "tools": [WEATHER],
        "tool_choice": "none",
        "text": {"verbosity": "low"},
        "metadata": {"ticket": "7"},
        "store": True,
        "max_output_tokens": 300,
    }
    response = post(gateway, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert_responses_valid(answer, "Response")
    [sent] = upstream_requests(gateway)
    assert sent["path"] == "/v1/responses"
    assert sent["body"] == {**body, "stream": False, "store": False}
    # OpenAI's own answer, as the simulator sent it: its echo of the forwarded settings.
    assert answer["store"] is False
    assert answer["text"] == {"format": {"type": "text"}, "verbosity": "low"}
    assert answer["metadata"] == {"ticket": "7"} and answer["max_output_tokens"] == 300
    extra = answer["x_routeplex"]
    assert extra["model_used"] == MODEL and extra["provider"] == "openai"
    (row,) = gateway.metadata(expect=1)
    assert row["request_id"] == extra["request_id"] and row["http_status"] == 200
    assert row["endpoint"] == "openai.responses"
    assert row["input_tokens"] == answer["usage"]["input_tokens"]
    assert row["output_tokens"] == answer["usage"]["output_tokens"]
    assert row["cost_picousd"] > 0


def test_a_stream_is_openais_events_as_sent(gateway: RunningGateway) -> None:
    upstream_requests(gateway)
    client_ = client(gateway)
    with client_.responses.stream(model=MODEL, input=PROMPT, tools=[WEATHER]) as stream:
        seen = list(stream)
        final = stream.get_final_response()
    [sent] = upstream_requests(gateway)
    assert sent["path"] == "/v1/responses" and sent["body"]["stream"] is True
    assert sent["body"]["store"] is False
    [call] = final.output
    assert call.type == "function_call" and call.name == "get_weather"
    fragments = [e.delta for e in seen if e.type == "response.function_call_arguments.delta"]
    assert "".join(fragments) == call.arguments
    assert [e.sequence_number for e in seen] == list(range(len(seen)))
    assert final.store is False and final.usage is not None
    (row,) = gateway.metadata(expect=1)
    assert row["http_status"] == 200 and row["output_tokens"] == final.usage.output_tokens
    assert row["input_tokens"] == final.usage.input_tokens


def test_a_raw_stream_validates_and_ends_with_usage(gateway: RunningGateway) -> None:
    response = post(gateway, {"model": MODEL, "input": PROMPT, "stream": True})
    assert response.status_code == 200
    found = events(response.text)
    assert [e["sequence_number"] for e in found] == list(range(len(found)))
    final = found[-1]
    assert final["type"] == "response.completed"
    assert final["response"]["store"] is False and "x_routeplex" in final["response"]
    (row,) = gateway.metadata(expect=1)
    assert row["output_tokens"] == final["response"]["usage"]["output_tokens"]


def test_the_callers_4xx_is_not_retried(gateway: RunningGateway) -> None:
    upstream_requests(gateway)
    fault(gateway, status=400, count=1)
    with pytest.raises(openai.BadRequestError):
        client(gateway).responses.create(model=MODEL, input=PROMPT)
    assert len(upstream_requests(gateway)) == 1
    (row,) = gateway.metadata(expect=1)
    assert row["http_status"] == 400


@pytest.mark.parametrize("status", [429, 500, 503])
def test_an_upstream_failure_is_one_row(gateway: RunningGateway, status: int) -> None:
    fault(gateway, status=status)
    with pytest.raises(openai.APIStatusError) as raised:
        client(gateway).responses.create(model=MODEL, input=PROMPT)
    assert raised.value.status_code >= 429
    (row,) = gateway.metadata(expect=1)
    assert row["http_status"] == raised.value.status_code
    assert row["error_code"] == ("provider_error" if status == 500 else "provider_unavailable")


def test_a_failure_after_content_ends_the_stream_with_an_error(gateway: RunningGateway) -> None:
    fault(gateway, malformed_after_chunks=6, count=1)
    response = post(gateway, {"model": MODEL, "input": PROMPT, "stream": True})
    assert response.status_code == 200
    found = events(response.text)
    assert [e["type"] for e in found[-2:]] == ["error", "response.failed"]
    assert sum(1 for e in found if e["type"] == "response.output_text.delta") == 2
    assert [e["sequence_number"] for e in found] == list(range(len(found)))
    (row,) = gateway.metadata(expect=1)
    assert row["http_status"] == 200 and row["error_code"] == "provider_error"
    # The provider broke off: its word stands — output unknown, never a guess of 0.
    assert row["output_tokens"] is None and row["usage_estimated"] == 0


@pytest.mark.parametrize("after", [2, 7])
def test_a_cut_stream_is_one_row(gateway: RunningGateway, after: int) -> None:
    fault(gateway, cut_after_chunks=after, count=1)
    response = post(gateway, {"model": MODEL, "input": PROMPT, "stream": True})
    if after == 2:
        # Before any content: nothing was sent, so the caller gets the error itself.
        assert response.status_code >= 500
    else:
        assert response.status_code == 200
        assert events(response.text)[-1]["type"] == "response.failed"
    (row,) = gateway.metadata(expect=1)
    assert row["http_status"] == response.status_code and row["error_code"] == "provider_error"
    assert row["attempts"] == 1  # one deployment: nothing else to fall back on
