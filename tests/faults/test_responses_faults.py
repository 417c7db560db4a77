"""Provider faults seen through OpenAI's Responses surface, on GPT, Claude and Gemini models:
a 5xx falls back, a 4xx is the caller's 4xx (sent upstream once), a hung provider times out,
a stream cut mid-way ends as OpenAI ends one (an `error` event, then `response.failed`), a
client that leaves is a 499 — each in OpenAI's shapes, validated by OpenAI's schema, with one
metadata row per request the gateway saw and the concurrency slot given back."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import RunningGateway
from tests.faults.conftest import fault, rows_by_id, today
from tests.support.named_events import named_events
from tests.support.openai_schema import assert_event_valid, assert_responses_valid

GPT, CLAUDE, GEMINI = "gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"
MODELS = (GPT, CLAUDE, GEMINI)
# Upstream chunks before the first content, after which a break comes after the first byte.
# Upstream events to let through before a cut, so that the client has had content: a GPT
# model's Responses stream opens with four events the gateway holds (created, in_progress,
# output_item.added, content_part.added) before its first delta.
STARTED = {GPT: 6, CLAUDE: 5, GEMINI: 2}
UPSTREAM_PATHS = ("/messages", "/chat/completions", "/responses", "enerateContent")
PROMPT = "Tell me about the sea. gannet-canary-3307"


def upstream_calls(gw: RunningGateway) -> int:
    entries = httpx.get(f"{gw.simulator_url}/_simulator/requests").json()["requests"]
    return sum(any(entry["path"].endswith(p) for p in UPSTREAM_PATHS) for entry in entries)


def sdk(gw: RunningGateway, seen: list[str], key: str | None = None) -> openai.OpenAI:
    """An SDK client without retries, noting the request id of every response."""

    def note(response: httpx.Response) -> None:
        seen.append(response.headers["x-request-id"])

    return openai.OpenAI(
        base_url=f"{gw.url}/v1",
        api_key=key or gw.keys["alice"],
        max_retries=0,
        http_client=httpx.Client(event_hooks={"response": [note]}, timeout=30),
    )


def call(client: openai.OpenAI, model: str, stream: bool) -> Any:
    if not stream:
        return client.responses.create(model=model, input=PROMPT, max_output_tokens=400)
    with client.responses.stream(model=model, input=PROMPT, max_output_tokens=400) as events:
        return events.get_final_response()


def assert_closed(gw: RunningGateway, seen: list[str], *statuses: int) -> dict[str, Any]:
    rows = rows_by_id(gw, seen)
    assert len(rows) == len(seen) == len(statuses)
    assert [rows[rid]["http_status"] for rid in seen] == list(statuses)
    assert {row["endpoint"] for row in rows.values()} <= {"openai.responses"}
    assert today(gw, gw.keys["alice"])["in_flight"] == 0
    return rows


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("model", MODELS)
def test_a_5xx_is_an_openai_error_and_falls_back(
    gw: RunningGateway, model: str, stream: bool
) -> None:
    fault(gw, model="*", status=500, count=1)
    seen: list[str] = []
    with pytest.raises(openai.InternalServerError) as failed:
        call(sdk(gw, seen), model, stream)
    assert failed.value.status_code == 502
    assert_responses_valid(failed.value.response.json(), "ErrorResponse")
    assert failed.value.response.json()["error"]["code"] == "provider_error"
    # With another model allowed, the same fault is a fallback the caller never sees.
    key = gw.add_account("alice", allowed_models=[GPT, CLAUDE, GEMINI])
    fault(gw, model="*", status=500, count=1)
    answered = call(sdk(gw, seen, key), "routeplex-ai", stream)
    assert answered.status == "completed" and answered.output_text
    rows = assert_closed(gw, seen, 502, 200)
    assert rows[seen[1]]["fallback_used"] == 1 and rows[seen[1]]["attempts"] == 2


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("model", MODELS)
def test_an_upstream_4xx_is_the_callers_4xx_sent_once(
    gw: RunningGateway, model: str, stream: bool
) -> None:
    fault(gw, model=model, status=400, count=3)
    httpx.delete(f"{gw.simulator_url}/_simulator/requests")
    seen: list[str] = []
    with pytest.raises(openai.BadRequestError) as refused:
        call(sdk(gw, seen), model, stream)
    body = refused.value.response.json()
    assert_responses_valid(body, "ErrorResponse")
    assert body["error"]["type"] == "invalid_request_error"
    assert "Provider said:" in body["error"]["message"]
    assert upstream_calls(gw) == 1
    (row,) = assert_closed(gw, seen, 400).values()
    assert row["error_code"] == "bad_request" and row["served_model"] is None


@pytest.mark.parametrize("model", MODELS)
def test_a_stream_cut_mid_way_ends_with_response_failed(gw: RunningGateway, model: str) -> None:
    fault(gw, model=model, count=1, cut_after_chunks=STARTED[model])
    headers = {"Authorization": f"Bearer {gw.keys['alice']}"}
    body = {"model": model, "input": PROMPT, "stream": True, "max_output_tokens": 300}
    response = httpx.post(f"{gw.url}/v1/responses", json=body, headers=headers, timeout=20)
    assert response.status_code == 200
    found = named_events(response.text)
    for event in found:
        assert_event_valid(event)
    assert [e["sequence_number"] for e in found] == list(range(len(found)))
    names = [e["type"] for e in found]
    assert names[0] == "response.created" and "response.output_text.delta" in names
    assert names[-2:] == ["error", "response.failed"] and "response.completed" not in names
    failed = found[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    request_id = response.headers["x-request-id"]
    row = assert_closed(gw, [request_id], 200)[request_id]
    assert row["error_code"] == "provider_error"
    # The SDK raises on the error event, as it does for OpenAI's own.
    with pytest.raises(openai.APIError):
        fault(gw, model=model, count=1, cut_after_chunks=STARTED[model])
        call(sdk(gw, []), model, stream=True)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_hung_provider_is_a_timeout(gw: RunningGateway, stream: bool) -> None:
    fault(gw, model=GPT, hang=True, count=1)
    seen: list[str] = []
    with pytest.raises(openai.APIStatusError) as failed:
        call(sdk(gw, seen), GPT, stream)
    assert failed.value.status_code == 504
    assert_responses_valid(failed.value.response.json(), "ErrorResponse")
    (row,) = assert_closed(gw, seen, 504).values()
    assert row["error_code"] == "provider_timeout"


@pytest.mark.parametrize("model", MODELS)
def test_a_client_leaving_mid_stream_is_499_with_one_row(gw: RunningGateway, model: str) -> None:
    fault(gw, model=model, stall_after_chunks=STARTED[model] + 3, count=1)
    headers = {"Authorization": f"Bearer {gw.keys['alice']}"}
    body = {"model": model, "input": PROMPT, "stream": True, "max_output_tokens": 4000}
    with httpx.stream(
        "POST", f"{gw.url}/v1/responses", json=body, headers=headers, timeout=20
    ) as response:
        request_id = response.headers["x-request-id"]
        for line in response.iter_lines():
            if line == "event: response.output_text.delta":
                break
        else:
            pytest.fail("the stream ended before its first delta")
    row = assert_closed(gw, [request_id], 499)[request_id]
    assert row["usage_estimated"] == 1 and row["input_tokens"]
