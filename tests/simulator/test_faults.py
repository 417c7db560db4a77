"""Every fault kind over a real socket, controlled through `/_simulator/faults`."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
import urllib.request
from typing import Any

import aiohttp
import openai
import pytest
import yaml

from routeplex_gateway.simulator.server import simulator_server
from tests.simulator import sse
from tests.simulator.conftest import API_KEY, Upstream
from tests.support.cassettes import PROVIDERS
from tests.support.openai_schema import errors
from tests.support.servers import free_port

FIXTURES = PROVIDERS / "openai"
HELLO: Any = [{"role": "user", "content": "hello"}]
AUTH = {"authorization": f"Bearer {API_KEY}"}


def _request(model: str = "gpt-4o", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": HELLO, **extra}


def _stream_request(model: str = "gpt-4o") -> dict[str, Any]:
    return _request(model, stream=True, stream_options={"include_usage": True})


def _error(status: int, raw: bytes, expected: int) -> dict[str, Any]:
    assert status == expected, raw
    body: dict[str, Any] = json.loads(raw)
    assert errors("ErrorResponse", body) == []
    return body


async def _read_until_error(
    upstream: Upstream, body: dict[str, Any], limits: aiohttp.ClientTimeout
) -> tuple[bytes, BaseException | None]:
    """POST and read the body until it ends or fails; (bytes received, the failure)."""
    received = b""
    async with aiohttp.ClientSession(timeout=limits) as session:
        url = upstream.url + "/v1/chat/completions"
        async with session.post(url, json=body, headers=AUTH) as response:
            assert response.status == 200
            try:
                async for data in response.content.iter_any():
                    received += data
            except (aiohttp.ClientPayloadError, TimeoutError) as failure:
                return received, failure
    return received, None


def test_status_fault_with_count(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", status=500, count=2)
    expected = {
        "error": {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }
    assert _error(*upstream.chat(_request())[::2], 500) == expected
    assert upstream.chat(_request("gpt-4o-mini"))[0] == 200
    listed = json.loads(upstream.call("GET", "/_simulator/faults")[2])["faults"]
    assert [(f["model"], f["status"], f["remaining_count"]) for f in listed] == [("gpt-4o", 500, 1)]
    assert _error(*upstream.chat(_request())[::2], 500) == expected
    assert upstream.chat(_request())[0] == 200


@pytest.mark.parametrize(
    ("fault", "message", "type_", "code"),
    [
        ({"status": 503}, "The engine is currently overloaded, please try again later",
         "server_error", None),
        ({"status": 429}, "Rate limit reached for requests", "requests", "rate_limit_exceeded"),
        ({"status": 401}, "Incorrect API key provided: sk-test**est.", "invalid_request_error",
         "invalid_api_key"),
        ({"status": 404}, "The model `gpt-4o` does not exist", "invalid_request_error",
         "model_not_found"),
        ({"status": 502}, "Bad Gateway.", "server_error", None),
        ({"status": 500, "code": "custom"}, "The server had an error", "server_error", "custom"),
    ],
)  # fmt: skip
def test_status_fault_bodies(
    upstream: Upstream, fault: dict[str, Any], message: str, type_: str, code: str | None
) -> None:
    upstream.add_fault(model="*", count=1, **fault)
    error = _error(*upstream.chat(_request())[::2], fault["status"])["error"]
    assert error["message"].startswith(message)
    assert (error["type"], error["param"], error["code"]) == (type_, None, code)


def test_recorded_error_bodies(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", status=400, count=1)
    upstream.add_fault(model="gpt-4o", status=429, code="insufficient_quota", count=1)
    recording = FIXTURES / "chat_completions_error_400_unsupported_value.yaml"
    recorded_400 = yaml.safe_load(recording.read_text())["interactions"][0]["response"]
    assert _error(*upstream.chat(_request())[::2], 400) == recorded_400["parsed_body"]
    recorded_429 = json.loads((FIXTURES / "error_429_insufficient_quota_body.json").read_text())
    assert _error(*upstream.chat(_request())[::2], 429) == recorded_429


def test_retry_after_header_and_sdk_errors(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", status=429, retry_after=2, count=1)
    status, headers, _ = upstream.chat(_request())
    assert (status, headers["retry-after"]) == (429, "2")
    upstream.add_fault(model="gpt-4o", status=429, count=1)
    upstream.add_fault(model="gpt-4o", status=503, count=1)
    client = upstream.client()
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o", messages=HELLO)


def test_status_fault_on_stream_is_plain_json(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", status=503, count=1)
    status, headers, raw = upstream.chat(_stream_request())
    assert headers["content-type"] == "application/json"
    assert _error(status, raw, 503)["error"]["type"] == "server_error"


def test_duration_expires(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", status=500, duration_s=0.3)
    assert upstream.chat(_request())[0] == 500
    assert upstream.chat(_request())[0] == 500
    time.sleep(0.35)
    assert upstream.chat(_request())[0] == 200
    assert json.loads(upstream.call("GET", "/_simulator/faults")[2]) == {"faults": []}


def test_latency_delays_and_composes(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", latency_ms=300, count=1)
    started = time.monotonic()
    assert upstream.chat(_request())[0] == 200
    assert time.monotonic() - started >= 0.3
    upstream.add_fault(model="gpt-4o", latency_ms=200, status=500, count=1)
    started = time.monotonic()
    assert upstream.chat(_stream_request())[0] == 500
    assert time.monotonic() - started >= 0.2


def test_wildcard_and_model_matching(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", status=500)
    assert upstream.chat(_request("gpt-4o-mini"))[0] == 200
    upstream.add_fault(model="*", status=503)
    assert upstream.chat(_request("any-model"))[0] == 503
    assert upstream.chat(_request("gpt-4o"))[0] == 500  # the oldest matching action wins
    assert json.loads(upstream.call("DELETE", "/_simulator/faults")[2]) == {"cleared": 2}
    assert json.loads(upstream.call("GET", "/_simulator/faults")[2]) == {"faults": []}
    assert upstream.chat(_request("gpt-4o"))[0] == 200


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{nope", "not valid JSON"),
        ({"model": "gpt-4o", "status": 500, "colour": "red"}, "colour"),
        ({"status": 500}, "model"),
        ({"model": "gpt-4o"}, "latency_ms"),
        ({"model": "gpt-4o", "status": 500, "hang": True}, "at most one action"),
    ],
)
def test_invalid_fault_body_is_400(upstream: Upstream, body: Any, needle: str) -> None:
    status, _, raw = upstream.call("POST", "/_simulator/faults", body)
    assert status == 400
    assert needle in json.loads(raw)["error"]["message"]


async def test_cut_after_chunks(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", cut_after_chunks=2)
    received, failure = await _read_until_error(
        upstream, _stream_request(), aiohttp.ClientTimeout(total=5)
    )
    assert isinstance(failure, aiohttp.ClientPayloadError)
    assert len(sse.events(received)) == 2
    with pytest.raises(openai.APIConnectionError):
        list(upstream.client().chat.completions.create(**_stream_request()))


async def test_malformed_after_chunks(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", malformed_after_chunks=2, count=1)
    received, failure = await _read_until_error(
        upstream, _stream_request(), aiohttp.ClientTimeout(total=5)
    )
    assert failure is None
    events = sse.events(received)
    assert len(events) == 3
    for event in events[:2]:
        json.loads(event[len(b"data: ") :])
    with pytest.raises(json.JSONDecodeError):
        json.loads(events[2][len(b"data: ") :])


async def test_stall_after_chunks(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", stall_after_chunks=2)
    received, failure = await _read_until_error(
        upstream, _stream_request(), aiohttp.ClientTimeout(sock_read=0.3)
    )
    assert isinstance(failure, TimeoutError)
    assert len(sse.events(received)) == 2


async def test_hang_times_out_without_blocking_others(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", hang=True)

    async def hung() -> BaseException | None:
        timeout = aiohttp.ClientTimeout(total=0.4)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                url = upstream.url + "/v1/chat/completions"
                async with session.post(url, json=_request(), headers=AUTH):
                    return None
        except TimeoutError as failure:
            return failure

    async def other() -> int:
        status, _, _ = await asyncio.to_thread(upstream.chat, _request("gpt-4o-mini"))
        return status

    started = time.monotonic()
    failure, other_status = await asyncio.gather(hung(), other())
    assert isinstance(failure, TimeoutError)
    assert other_status == 200
    assert time.monotonic() - started < 2


async def test_clearing_faults_releases_a_hang(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", hang=True)
    waiting = asyncio.create_task(asyncio.to_thread(upstream.chat, _request()))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await asyncio.to_thread(upstream.call, "DELETE", "/_simulator/faults")
    status, _, raw = await asyncio.wait_for(waiting, timeout=5)
    assert status == 200 and json.loads(raw)["object"] == "chat.completion"


def test_break_faults_on_non_stream_requests(upstream: Upstream) -> None:
    upstream.add_fault(model="gpt-4o", cut_after_chunks=0, count=1)
    with pytest.raises(http.client.IncompleteRead):
        upstream.chat(_request())
    upstream.add_fault(model="gpt-4o", malformed_after_chunks=0, count=1)
    status, _, raw = upstream.chat(_request())
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    upstream.add_fault(model="gpt-4o", stall_after_chunks=0, count=1)
    request = urllib.request.Request(
        upstream.url + "/v1/chat/completions",
        data=json.dumps(_request()).encode(),
        headers={**AUTH, "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=0.3) as response:
        assert response.status == 200
        with pytest.raises(TimeoutError):
            response.read()


def test_server_shutdown_releases_hung_requests() -> None:
    port = free_port()
    server = simulator_server("127.0.0.1", port)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    upstream = Upstream(f"http://127.0.0.1:{port}")
    upstream.add_fault(model="gpt-4o", hang=True)
    outcome: dict[str, int] = {}
    client = threading.Thread(target=lambda: outcome.update(status=upstream.chat(_request())[0]))
    client.start()
    time.sleep(0.2)
    started = time.monotonic()
    server.should_exit = True
    thread.join(timeout=5)
    client.join(timeout=5)
    assert not thread.is_alive() and time.monotonic() - started < 3
    assert outcome == {"status": 200}
