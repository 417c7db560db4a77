"""The application shell: the chat endpoints' direct dispatch answers exactly as the rest of
the app does — security headers on every response, the right envelope for an unexpected
error, Starlette's own answers for other methods on the same paths."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from routeplex_gateway.app import create_app
from routeplex_gateway.gateway import Gateway
from tests.conftest import RunningGateway, gateway_settings
from tests.support.accounts import create_account_with_key
from tests.support.servers import serve_in_thread

SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "canary-app hello"}]}


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/v1/chat"])
@pytest.mark.parametrize("stream", [False, True])
def test_chat_responses_carry_the_security_headers(
    gateway: RunningGateway, path: str, stream: bool
) -> None:
    response = httpx.post(
        f"{gateway.url}{path}",
        json={**CHAT, "stream": stream},
        headers=_headers(gateway.keys["alice"]),
    )
    assert response.status_code == 200
    for name, value in SECURITY.items():
        assert response.headers[name] == value
    # A stream keeps its own no-cache; anything else is no-store.
    assert response.headers["cache-control"] == ("no-cache" if stream else "no-store")
    refused = httpx.post(f"{gateway.url}{path}", json=CHAT, headers=_headers("rp_live_nope"))
    assert refused.status_code == 401
    assert refused.headers["x-frame-options"] == "DENY"


def test_other_methods_on_the_chat_paths_get_405_in_their_envelope(
    gateway: RunningGateway,
) -> None:
    openai_style = httpx.get(f"{gateway.url}/v1/chat/completions")
    assert openai_style.status_code == 405
    assert openai_style.json()["error"]["code"] == "method_not_allowed"
    native_style = httpx.get(f"{gateway.url}/api/v1/chat")
    assert native_style.status_code == 405
    assert native_style.json()["error"]["code"] == "method_not_allowed"
    assert native_style.json()["success"] is False


@pytest.fixture
def broken_gateway(
    tmp_path: Path, simulator_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str]]:
    """A gateway whose routing step fails with an error nobody anticipated."""

    async def fails(self: Gateway, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("canary-app internal detail")

    monkeypatch.setattr(Gateway, "route", fails)
    settings = gateway_settings(tmp_path)
    key = create_account_with_key(settings, "alice")
    with serve_in_thread(create_app(settings, simulator_url=simulator_url)) as url:
        yield url, key


@pytest.mark.parametrize("stream", [False, True])
def test_an_unexpected_error_is_a_500_in_the_right_envelope(
    broken_gateway: tuple[str, str], stream: bool, caplog: pytest.LogCaptureFixture
) -> None:
    url, key = broken_gateway
    caplog.set_level(logging.DEBUG)
    body = {**CHAT, "stream": stream}
    openai_style = httpx.post(f"{url}/v1/chat/completions", json=body, headers=_headers(key))
    native_style = httpx.post(f"{url}/api/v1/chat", json=body, headers=_headers(key))
    for response in (openai_style, native_style):
        assert response.status_code == 500
        assert response.headers["x-frame-options"] == "DENY"
        assert "canary" not in response.text and "Traceback" not in response.text
        assert response.json()["error"]["code"] == "internal_error"
    assert "success" not in openai_style.json()
    assert native_style.json()["success"] is False
    logged = "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    assert "RuntimeError" in logged
    assert "canary" not in logged
