"""Every admitted request is closed exactly once, whatever is raised: its slot released, its
reservation settled, one metadata row with its status. Caller mistakes that used to surface
as unexpected exceptions (a `tool_calls` that is not an array, a field nested deeper than
any JSON encoder takes) are a 400 naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from routeplex_gateway.canonical import Chunk
from routeplex_gateway.routing.router import Router, StartedStream
from tests.conftest import RunningGateway
from tests.faults.conftest import rows_by_id, today

DIALECTS = ("/v1/chat/completions", "/api/v1/chat")
REPEAT = 6  # one more than the `usage` plan's 5 slots: a leaked slot would refuse the last


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def _post(gw: RunningGateway, key: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{gw.url}{path}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=20
    )


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def _param(path: str, error: dict[str, Any]) -> Any:
    return error["param"] if path.startswith("/v1") else error["details"].get("param")


MISTAKES = {
    "tool_calls_not_an_array": (
        {
            "model": "claude-3-5-haiku",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "tool_calls": "abc"},
                {"role": "user", "content": "hi"},
            ],
        },
        "messages[1].tool_calls",
    ),
    "message_field_nested_300_deep": (
        {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hi", "name": _nested(300)}],
        },
        "messages[0].name",
    ),
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path", DIALECTS)
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_caller_mistakes_are_400s_that_hold_nothing(
    gateway: RunningGateway, mistake: str, path: str, stream: bool
) -> None:
    key = gateway.keys["alice"]
    body, param = MISTAKES[mistake]
    ids = []
    for _ in range(REPEAT):
        response = _post(gateway, key, path, {**body, "stream": stream})
        assert response.status_code == 400, response.text
        assert _error(response)["code"] == "validation_error"
        assert _param(path, _error(response)) == param
        ids.append(response.headers["x-request-id"])
    rows = rows_by_id(gateway, ids)
    assert len(rows) == REPEAT
    assert {(r["http_status"], r["error_code"]) for r in rows.values()} == {
        (400, "validation_error")
    }
    state = today(gateway, key)
    assert state["in_flight"] == 0 and state["tokens"] == 0


def test_a_top_level_field_nested_too_deep_is_named(gateway: RunningGateway) -> None:
    for path in DIALECTS:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        field = "metadata" if path.startswith("/v1") else "messages"
        if field == "metadata":
            body["metadata"] = {"a": _nested(300)}
        else:
            body["messages"] = [
                {"role": "user", "content": [{"type": "text", "text": "hi", "x": _nested(300)}]}
            ]
        response = _post(gateway, gateway.keys["alice"], path, body)
        assert response.status_code == 400, response.text
        assert _param(path, _error(response)) in (field, "messages[0]")


class Boom(Exception):
    """Stands for any bug: an exception the gateway does not know."""


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path", DIALECTS)
def test_an_unexpected_exception_after_admission_closes_the_request_once(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch, path: str, stream: bool
) -> None:
    async def complete(self: Router, *args: Any) -> Any:
        raise Boom

    async def open_stream(self: Router, *args: Any) -> Any:
        raise Boom

    monkeypatch.setattr(Router, "complete", complete)
    monkeypatch.setattr(Router, "open_stream", open_stream)
    key = gateway.keys["alice"]
    body = {
        "model": "gpt-4o-mini",
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }
    ids = []
    for _ in range(REPEAT):
        response = _post(gateway, key, path, body)
        assert response.status_code == 500, response.text
        assert _error(response)["code"] == "internal_error"
        ids.append(response.headers["x-request-id"])
    rows = rows_by_id(gateway, ids)
    assert len(rows) == REPEAT
    assert {(r["http_status"], r["error_code"]) for r in rows.values()} == {(500, "internal_error")}
    state = today(gateway, key)
    assert state["in_flight"] == 0 and state["tokens"] == 0


@pytest.mark.parametrize("path", DIALECTS)
def test_an_unexpected_exception_mid_stream_ends_the_stream_and_closes_once(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    real_open = Router.open_stream

    async def open_stream(self: Router, *args: Any) -> StartedStream:
        started = await real_open(self, *args)

        async def rest() -> AsyncIterator[Chunk]:
            yield await anext(started.rest)
            raise Boom

        return StartedStream(stream=started.stream, first=started.first, rest=rest())

    monkeypatch.setattr(Router, "open_stream", open_stream)
    key = gateway.keys["alice"]
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    ids = []
    for _ in range(REPEAT):
        response = _post(gateway, key, path, body)
        assert response.status_code == 200
        events = [e for e in response.text.split("\n\n") if e]
        # Ended in the dialect's own way, not by a dropped connection.
        assert events[-1] == "data: [DONE]", events
        assert "internal_error" in events[-2]
        ids.append(response.headers["x-request-id"])
    rows = rows_by_id(gateway, ids)
    assert len(rows) == REPEAT
    assert {(r["http_status"], r["error_code"]) for r in rows.values()} == {(500, "internal_error")}
    assert today(gateway, key)["in_flight"] == 0
