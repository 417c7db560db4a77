"""Malformed and hostile input to `POST /v1/messages` and `POST /v1/messages/count_tokens`
(`messages_bodies.BAD`), on a Claude model and a GPT model: every answer is a 4xx in
Anthropic's envelope with the right status and `type`, never a 5xx, never quoting the
canary the caller put in the bad field; every admitted request has exactly one metadata row
with the status it was answered; what the gateway refuses never reaches the provider, and
what only the provider refuses reaches it once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningGateway
from tests.faults.conftest import rows_by_id, today
from tests.faults.messages_bodies import BAD, CANARY, GATEWAY, Bad
from tests.support.accounts import set_account_limits

MODELS = ("claude-haiku-4-5", "gpt-4o-mini")
MESSAGES, COUNT = "/v1/messages", "/v1/messages/count_tokens"
PROVIDER_SAID = " Provider said: "


@pytest.fixture
def gw(gateway: RunningGateway) -> Iterator[RunningGateway]:
    # Past the `usage` plan's 30 requests a minute; its 5 slots stay, so a leak still shows.
    set_account_limits(gateway, "alice", {"rpm": 100_000})
    yield gateway
    assert today(gateway, gateway.keys["alice"])["in_flight"] == 0


def send(gw: RunningGateway, path: str, bad: Bad, model: str) -> httpx.Response:
    headers = {
        "x-api-key": gw.keys["alice"],
        "anthropic-version": "2023-06-01",
        "content-type": bad.content_type,
        **bad.headers,
    }
    if bad.raw is not None:
        content = bad.raw
    else:
        assert bad.body is not None
        # json, not orjson: it writes integers past 64 bits and nesting past 254 levels.
        content = json.dumps(bad.body(model)).encode()
    return httpx.post(f"{gw.url}{path}", content=content, headers=headers, timeout=30)


def anthropic_error(response: httpx.Response) -> dict[str, Any]:
    """The answer as Anthropic's error envelope, checked: a 4xx, JSON, `type: error`, an
    error `type` and `message`, and no canary in what the gateway itself wrote."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["type"] == "error", body
    error = body["error"]
    assert isinstance(error["type"], str) and isinstance(error["message"], str), body
    own = error["message"].split(PROVIDER_SAID)[0]
    assert CANARY not in own, f"the gateway quoted the request: {own}"
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


def upstream_calls(gw: RunningGateway) -> int:
    entries = httpx.get(f"{gw.simulator_url}/_simulator/requests").json()["requests"]
    return sum(entry["path"].startswith("/v1/") for entry in entries)


@pytest.mark.parametrize("model", MODELS)
def test_bad_messages_requests_are_4xx_in_anthropics_envelope(
    gw: RunningGateway, model: str
) -> None:
    assert len(BAD) >= 40
    ids: dict[str, int] = {}
    wrong: list[str] = []
    sent = [bad for bad in BAD if model.startswith(bad.only)]
    for bad in sent:
        httpx.delete(f"{gw.simulator_url}/_simulator/requests")
        response = send(gw, MESSAGES, bad, model)
        try:
            body = anthropic_error(response)
        except AssertionError as problem:
            wrong.append(f"{bad.name}: {problem}")
            continue
        error = body["error"]
        if (response.status_code, error["type"]) != (bad.status, bad.kind):
            wrong.append(f"{bad.name}: {response.status_code} {error['type']} {error['message']}")
        # Every request the gateway took has its id, in the header and the body alike.
        request_id = response.headers["request-id"]
        assert body["request_id"] == request_id
        ids[request_id] = response.status_code
        calls = upstream_calls(gw)
        if bad.where == GATEWAY:
            assert calls == 0, f"{bad.name}: refused, yet sent to the provider"
            assert PROVIDER_SAID not in error["message"], bad.name
        else:
            assert calls == 1, f"{bad.name}: the provider was called {calls} times"
            assert PROVIDER_SAID in error["message"], bad.name
    assert not wrong, "\n".join(wrong)
    rows = rows_by_id(gw, list(ids))
    assert len(rows) == len(ids) == len(sent)  # one row per request, none twice
    assert {rid: row["http_status"] for rid, row in rows.items()} == ids
    assert all(row["error_code"] for row in rows.values())
    assert today(gw, gw.keys["alice"])["tokens"] == 0  # nothing was answered, nothing charged


@pytest.mark.parametrize("model", MODELS)
def test_bad_count_tokens_requests_are_4xx_in_anthropics_envelope(
    gw: RunningGateway, model: str
) -> None:
    wrong: list[str] = []
    for bad in BAD:
        response = send(gw, COUNT, bad, model)
        if bad.name in ("max_tokens missing", "max_tokens is null") or bad.where != GATEWAY:
            # Counting needs no max_tokens (a null one counts as absent, as any null field),
            # and a GPT model's count is the gateway's own estimate, which does not check what
            # only the provider checks.
            assert response.status_code < 500, (bad.name, response.text[:300])
            if response.status_code >= 400:
                anthropic_error(response)
            continue
        try:
            body = anthropic_error(response)
        except AssertionError as problem:
            wrong.append(f"{bad.name}: {problem}")
            continue
        if (response.status_code, body["error"]["type"]) != (bad.status, bad.kind):
            wrong.append(f"{bad.name}: {response.status_code} {body['error']['message']}")
    assert not wrong, "\n".join(wrong)
    assert gw.metadata(expect=0, timeout=0.2) == []  # counting is free, and never recorded


def test_a_body_past_the_limit_without_a_length_is_refused_while_read(gw: RunningGateway) -> None:
    chunk = b'{"model": "gpt-4o-mini", "x": "' + CANARY.encode() * 4096

    def chunks() -> Iterator[bytes]:
        for _ in range(200):  # 16 MB, never announced
            yield chunk

    headers = {"x-api-key": gw.keys["alice"], "anthropic-version": "2023-06-01"}
    for path in (MESSAGES, COUNT):
        try:
            response = httpx.post(f"{gw.url}{path}", content=chunks(), headers=headers, timeout=30)
        except httpx.TransportError:
            continue  # the gateway closed the connection while the body was still coming
        body = anthropic_error(response)
        assert response.status_code == 413 and body["error"]["type"] == "request_too_large"


def test_hostile_headers_and_queries_are_4xx_without_an_echo(gw: RunningGateway) -> None:
    key = gw.keys["alice"]
    ok = {"model": "gpt-4o-mini", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    sent = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    cases = [
        (MESSAGES, {**sent, "x-routeplex-strategy": CANARY}, 400),
        (MESSAGES, {"x-api-key": CANARY, "anthropic-version": "2023-06-01"}, 401),
        (MESSAGES, {"x-api-key": "rp_live_" + CANARY}, 401),
        (MESSAGES, {"authorization": "Bearer " + CANARY}, 401),
        (COUNT, {"x-api-key": CANARY}, 401),
    ]
    for path, headers, status in cases:
        response = httpx.post(f"{gw.url}{path}", json=ok, headers=headers, timeout=10)
        assert response.status_code == status, (headers, response.text)
        anthropic_error(response)
    # A beta header travels to an Anthropic upstream: bytes no header should hold, still
    # no 5xx.
    claude = {**ok, "model": "claude-haiku-4-5"}
    for beta in (b"\xff\xfe" + CANARY.encode(), CANARY.encode() * 200, b"a, , ,b"):
        for path in (MESSAGES, COUNT):
            response = httpx.post(
                f"{gw.url}{path}",
                json=claude,
                headers={**sent, "anthropic-beta": beta},  # type: ignore[dict-item]
                timeout=10,
            )
            assert response.status_code < 500, (beta[:20], response.text)
            if response.status_code >= 400:
                anthropic_error(response)
    for params in ({"limit": CANARY}, {"after_id": CANARY}, {"before_id": CANARY}, {"limit": "0"}):
        listing = httpx.get(f"{gw.url}/v1/models", params=params, headers=sent, timeout=10)
        assert listing.status_code == 400, (params, listing.text)
        anthropic_error(listing)
    one = httpx.get(f"{gw.url}/v1/models/{CANARY}", headers=sent, timeout=10)
    assert one.status_code == 404 and anthropic_error(one)["error"]["type"] == "not_found_error"
    wrong_method = httpx.get(f"{gw.url}{MESSAGES}", headers=sent, timeout=10)
    assert wrong_method.status_code == 405
    anthropic_error(wrong_method)
