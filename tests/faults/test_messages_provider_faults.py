"""Provider faults seen through Anthropic's Messages surface, on a Claude model (the caller's
body forwarded and the upstream's events relayed as they came) and a GPT model (translated):
a 5xx before the first byte, a 4xx, a stream cut, broken or stalled mid-way, a provider that
hangs, a client that leaves. Each ends in Anthropic's own shapes — an error body with the
right status and `type`, or an `event: error` closing a started stream — with one metadata
row per request the gateway saw (counted by the `request-id` of every response the SDK got,
its own retries included), the upstream called no more often than it should be, and the
concurrency slot given back.
"""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit

import anthropic
import httpx
import httpx2
import orjson
import pytest

from tests.conftest import RunningGateway
from tests.faults.conftest import fault, rows_by_id, today
from tests.support.anthropic_sdk import events

CLAUDE, GPT = "claude-haiku-4-5", "gpt-4o-mini"
MODELS = (CLAUDE, GPT)
HELLO = [{"role": "user", "content": "Tell me about the sea."}]
# Events before the first content, which a passthrough stream holds: a break after more of
# them than this happens after the caller has had bytes.
STARTED = {CLAUDE: 5, GPT: 3}
UPSTREAM_PATHS = ("/v1/messages", "/v1/chat/completions")


def forget_upstream(gw: RunningGateway) -> None:
    httpx.delete(f"{gw.simulator_url}/_simulator/requests")


def upstream_calls(gw: RunningGateway) -> int:
    entries = httpx.get(f"{gw.simulator_url}/_simulator/requests").json()["requests"]
    return sum(entry["path"] in UPSTREAM_PATHS for entry in entries)


def sdk(gw: RunningGateway, seen: list[str], key: str | None = None) -> anthropic.Anthropic:
    """An SDK client with its default retries, noting the request id of every response."""

    def note(response: httpx2.Response) -> None:
        seen.append(response.headers["request-id"])

    return anthropic.Anthropic(
        base_url=gw.url,
        api_key=key or gw.keys["alice"],
        http_client=httpx2.Client(event_hooks={"response": [note]}, timeout=30),
    )


def call(client: anthropic.Anthropic, model: str, stream: bool, **extra: Any) -> Any:
    """One Messages call, read to its end."""
    body: dict[str, Any] = {"model": model, "max_tokens": 25, "messages": HELLO, **extra}
    if not stream:
        return client.messages.create(**body)
    with client.messages.stream(**body) as events_:
        return events_.get_final_message()


def assert_closed(gw: RunningGateway, seen: list[str], *statuses: int) -> dict[str, Any]:
    """One row per response the client saw, with these statuses; no slot held."""
    rows = rows_by_id(gw, seen)
    assert len(rows) == len(seen) == len(statuses)
    assert [rows[rid]["http_status"] for rid in seen] == list(statuses)
    assert today(gw, gw.keys["alice"])["in_flight"] == 0
    return rows


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize(
    ("upstream", "status", "kind", "code"),
    [
        (500, 502, "api_error", "provider_error"),
        (529, 503, "overloaded_error", "provider_unavailable"),
        (503, 503, "overloaded_error", "provider_unavailable"),
    ],
)
@pytest.mark.parametrize("model", MODELS)
def test_a_5xx_before_the_first_byte_is_an_anthropic_error(
    gw: RunningGateway, model: str, upstream: int, status: int, kind: str, code: str, stream: bool
) -> None:
    fault(gw, model=model, status=upstream, count=1)
    seen: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as failed:
        call(sdk(gw, seen).with_options(max_retries=0), model, stream)
    assert failed.value.status_code == status
    assert failed.value.body["type"] == "error"  # type: ignore[index]
    assert failed.value.body["error"]["type"] == kind  # type: ignore[index]
    (row,) = assert_closed(gw, seen, status).values()
    assert row["error_code"] == code and row["input_tokens"] is None
    assert today(gw, gw.keys["alice"])["tokens"] == 0  # nothing was answered


@pytest.mark.parametrize("model", MODELS)
def test_the_sdks_retries_of_a_5xx_each_have_their_row(gw: RunningGateway, model: str) -> None:
    fault(gw, model=model, status=500, count=1)
    seen: list[str] = []
    message = call(sdk(gw, seen), model, stream=False)  # retried once, by the SDK
    assert message.content[0].text
    assert_closed(gw, seen, 502, 200)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_5xx_falls_back_to_the_next_model(gw: RunningGateway, stream: bool) -> None:
    key = gw.add_account("alice", allowed_models=[CLAUDE, GPT])
    fault(gw, model="*", status=500, count=1)
    seen: list[str] = []
    raw = (
        sdk(gw, seen, key)
        .with_options(max_retries=0)
        .messages.with_raw_response.create(
            model="routeplex-ai", max_tokens=25, messages=HELLO, stream=stream
        )
    )
    body = raw.http_response.read()
    if stream:
        names = [name for name, _ in events(body)]
        assert names[0] == "message_start" and names[-1] == "message_stop"
    else:
        routeplex = orjson.loads(body)["x_routeplex"]
        assert routeplex["fallback_used"] is True and routeplex["attempts"] == 2
    (row,) = assert_closed(gw, seen, 200).values()
    assert row["fallback_used"] == 1 and row["attempts"] == 2


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("upstream", [400, 404, 413, 422])
@pytest.mark.parametrize("model", MODELS)
def test_an_upstream_4xx_is_the_callers_4xx_sent_once(
    gw: RunningGateway, model: str, upstream: int, stream: bool
) -> None:
    fault(gw, model=model, status=upstream, count=3)  # a retry would meet it again
    forget_upstream(gw)
    seen: list[str] = []
    with pytest.raises(anthropic.BadRequestError) as refused:
        call(sdk(gw, seen), model, stream)  # the SDK's own retries are on
    assert refused.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "Provider said:" in refused.value.message  # the provider's words, for the caller
    assert upstream_calls(gw) == 1  # neither the gateway nor the SDK sent it again
    (row,) = assert_closed(gw, seen, 400).values()
    assert row["error_code"] == "bad_request" and row["served_model"] is None
    assert today(gw, gw.keys["alice"])["tokens"] == 0


def _stream_raw(gw: RunningGateway, model: str, **extra: Any) -> tuple[str, bytes]:
    body = {"model": model, "max_tokens": 200, "messages": HELLO, "stream": True, **extra}
    headers = {"x-api-key": gw.keys["alice"], "anthropic-version": "2023-06-01"}
    response = httpx.post(f"{gw.url}/v1/messages", json=body, headers=headers, timeout=20)
    assert response.status_code == 200, response.text
    return response.headers["request-id"], response.content


@pytest.mark.parametrize(
    ("break_", "kind", "code"),
    [
        ("cut_after_chunks", "api_error", "provider_error"),
        ("malformed_after_chunks", None, None),  # each format's own way of failing
        ("stall_after_chunks", "api_error", "provider_error"),  # the 1 s read timeout
    ],
)
@pytest.mark.parametrize("model", MODELS)
def test_a_stream_broken_mid_way_ends_with_an_error_event(
    gw: RunningGateway, model: str, break_: str, kind: str | None, code: str | None
) -> None:
    fault(gw, model=model, count=1, **{break_: STARTED[model]})
    request_id, body = _stream_raw(gw, model)
    names = [name for name, _ in events(body)]
    assert names[0] == "message_start" and "content_block_delta" in names
    assert names[-1] == "error" and "message_stop" not in names  # Anthropic's way to fail
    error = events(body)[-1][1]
    assert error["type"] == "error" and error["request_id"] == request_id
    assert error["error"]["type"] in ((kind,) if kind else ("api_error", "overloaded_error"))
    row = assert_closed(gw, [request_id], 200)[request_id]
    assert row["error_code"] in ((code,) if code else ("provider_error", "provider_unavailable"))
    # The provider broke off: its word stands — output unknown, never a guess of 0.
    assert row["output_tokens"] is None and row["usage_estimated"] == 0


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("model", MODELS)
def test_a_hung_provider_is_a_timeout_error(gw: RunningGateway, model: str, stream: bool) -> None:
    fault(gw, model=model, hang=True, count=3)
    forget_upstream(gw)
    seen: list[str] = []
    started = time.monotonic()
    with pytest.raises(anthropic.APIStatusError) as failed:
        call(sdk(gw, seen), model, stream)
    assert time.monotonic() - started < 10
    assert failed.value.status_code == 504
    assert failed.value.body["error"]["type"] == "timeout_error"  # type: ignore[index]
    retry = failed.value.response.headers.get("x-should-retry")
    if stream:
        # No headers yet: the provider never started, so asking again is safe, and the SDK
        # does, twice.
        assert retry is None and upstream_calls(gw) == 3
    else:
        # The provider may be generating it: the SDK is told not to ask again, and does not.
        assert retry == "false" and upstream_calls(gw) == 1
    rows = assert_closed(gw, seen, *[504] * len(seen))
    assert {row["error_code"] for row in rows.values()} == {"provider_timeout"}


@pytest.mark.parametrize("model", MODELS)
def test_a_client_aborting_mid_stream_is_499_and_frees_its_slot(
    gw: RunningGateway, model: str
) -> None:
    fault(gw, model=model, stall_after_chunks=STARTED[model] + 3, count=1)
    body = {"model": model, "max_tokens": 4000, "messages": HELLO, "stream": True}
    headers = {"x-api-key": gw.keys["alice"], "anthropic-version": "2023-06-01"}
    with httpx.stream(
        "POST", f"{gw.url}/v1/messages", json=body, headers=headers, timeout=20
    ) as response:
        request_id = response.headers["request-id"]
        for line in response.iter_lines():
            if line == "event: content_block_delta":
                break  # the client gives up after the first delta
        else:
            pytest.fail("the stream ended before its first delta")
    row = assert_closed(gw, [request_id], 499)[request_id]
    assert row["usage_estimated"] == 1 and row["input_tokens"]
    used = today(gw, gw.keys["alice"])
    # Charged the prompt and what was relayed, not the 4,000 tokens reserved for the answer.
    assert used["tokens"] == row["input_tokens"] + row["output_tokens"] < 500


@pytest.mark.parametrize("model", MODELS)
def test_a_client_leaving_before_a_plain_answer_frees_its_slot_at_once(
    gw: RunningGateway, model: str
) -> None:
    fault(gw, model=model, hang=True, count=1)
    forget_upstream(gw)
    url = urlsplit(gw.url)
    body = orjson.dumps({"model": model, "max_tokens": 4000, "messages": HELLO})
    head = (
        f"POST /v1/messages HTTP/1.1\r\nHost: {url.netloc}\r\nx-api-key: {gw.keys['alice']}\r\n"
        f"anthropic-version: 2023-06-01\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(head.encode() + body)
        deadline = time.monotonic() + 5
        while upstream_calls(gw) == 0:
            assert time.monotonic() < deadline, "the request never reached the provider"
            time.sleep(0.02)
    left = time.monotonic()
    while today(gw, gw.keys["alice"])["in_flight"] != 0:
        assert time.monotonic() - left < 1.0, "the slot is still held"
        time.sleep(0.02)
    (row,) = gw.metadata(expect=1)
    assert row["http_status"] == 499 and row["usage_estimated"] == 1
    assert row["endpoint"] == "anthropic.messages"
