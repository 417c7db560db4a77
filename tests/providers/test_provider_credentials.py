"""The gateway's own provider keys never reach a caller: a provider that rejects them is the
operator's problem (502 `provider_error` in the surface's envelope, no retry, nothing of the
provider's words about the key), and key-like text in any relayed provider message is masked.

Run through the simulator, which answers a bad key the way each provider does (OpenAI quotes
the key half-masked: `sk-route**********ator`), on both dialects, streamed and not.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from routeplex_gateway.app import create_app
from routeplex_gateway.config import load_settings
from routeplex_gateway.errors import scrub
from tests.conftest import RunningGateway
from tests.support.accounts import create_account_with_key
from tests.support.servers import serve_in_thread

# The key every built-in deployment sends to the simulator (routing/catalog.py).
SIMULATOR_KEY = "sk-routeplex-simulator"
# How each provider says the gateway's key is bad (the model as the provider knows it).
BAD_KEY = [
    pytest.param("gpt-4o-mini", {"status": 401}, id="openai-401"),
    pytest.param("gpt-4o-mini", {"status": 403}, id="openai-403"),
    pytest.param("claude-3-5-haiku-20241022", {"status": 401}, id="anthropic-401"),
    pytest.param("claude-3-5-haiku-20241022", {"status": 403}, id="anthropic-403"),
    pytest.param(
        "gemini-2.5-flash", {"status": 400, "code": "API_KEY_INVALID"}, id="gemini-bad-key"
    ),
    pytest.param("gemini-2.5-flash", {"status": 403}, id="gemini-403"),
]
DIALECTS = [
    pytest.param(False, id="not-streamed"),
    pytest.param(True, id="streamed"),
]


def fragments(key: str) -> list[str]:
    """The pieces of a key a provider shows when it masks one: its head, and its tail after
    the mask (`sk-route**********ator`)."""
    return [key, key[:8], "*" + key[-4:]]


def ask(
    gw: RunningGateway, model: str, fault: dict[str, Any], *, native: bool, stream: bool
) -> httpx.Response:
    registered = httpx.post(
        f"{gw.simulator_url}/_simulator/faults", json={"model": model, "count": 1, **fault}
    )
    assert registered.status_code == 201, registered.text
    messages = [{"role": "user", "content": "hello"}]
    path = "/api/v1/chat" if native else "/v1/chat/completions"
    body = {"model": model, "messages": messages, "stream": stream}
    headers = {"Authorization": f"Bearer {gw.keys['alice']}"}
    return httpx.post(f"{gw.url}{path}", json=body, headers=headers, timeout=30)


@pytest.mark.parametrize(("model", "fault"), BAD_KEY)
@pytest.mark.parametrize("stream", DIALECTS)
def test_a_rejected_provider_key_is_the_operators_problem_and_never_shown(
    gateway: RunningGateway, model: str, fault: dict[str, Any], stream: bool
) -> None:
    for native in (False, True):
        response = ask(gateway, model, fault, native=native, stream=stream)
        assert response.status_code == 502, response.text
        assert response.headers["x-should-retry"] == "false"  # SDKs must not send it again
        text = response.text
        for piece in fragments(SIMULATOR_KEY):
            assert piece not in text, (piece, text)
        assert "sk-" not in text and "Provider said" not in text, text
        error = response.json()["error"]
        if native:
            assert response.json()["success"] is False
            assert error["code"] == "provider_error"
            assert error["details"]["upstream_status"] == fault["status"]
        else:
            assert (error["code"], error["type"]) == ("provider_error", "api_error")
        assert "the gateway's credentials for this provider were rejected" in error["message"]
    # One attempt each: a bad provider key is not retried on the caller's behalf.
    rows = gateway.metadata(expect=2)
    assert [(r["http_status"], r["attempts"]) for r in rows] == [(502, 1), (502, 1)]


def test_a_configured_key_of_any_shape_is_masked_when_a_provider_echoes_it(
    tmp_path: Path, simulator_url: str
) -> None:
    """An OpenAI-compatible server with a key that looks like no known vendor's: the
    simulator's 401 quotes it half-masked (`my-own-k*****6789`)."""
    key = "my-own-key-for-the-local-server-6789"
    config = tmp_path / "routeplex.toml"
    config.write_text(
        '[[providers]]\nname = "local"\nkind = "openai"\n'
        f'base_url = "{simulator_url}/v1"\napi_key = "{key}"\nmodels = ["llama-3.1-8b"]\n'
    )
    data_dir = tmp_path / "data"
    settings = load_settings(config, data_dir=data_dir)
    caller = create_account_with_key(settings, "ops")
    with serve_in_thread(create_app(settings)) as url:
        httpx.post(
            f"{simulator_url}/_simulator/faults",
            json={"model": "llama-3.1-8b", "count": 1, "status": 401},
        )
        response = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "local/llama-3.1-8b", "messages": [{"role": "user", "content": "x"}]},
            headers={"Authorization": f"Bearer {caller}"},
        )
    assert response.status_code == 502, response.text
    for piece in fragments(key):
        assert piece not in response.text, (piece, response.text)


MASKED = "[redacted]"


@pytest.mark.parametrize(
    "secret",
    [
        "sk-proj-AbCdEf0123456789AbCdEf0123456789",
        "sk-ant-api03-AbCdEf0123456789_AbCdEf-0123456789",
        "sk-route**********ator",
        "sk-proj-****************************************abcd",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
        "AIzaSy...StUvW",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
        "bearer abc123def456",
        "rk_live_0123456789abcdef",
        "****************************wxyz",
    ],
)
def test_key_like_text_in_a_provider_message_is_masked(secret: str) -> None:
    said = scrub(f"Incorrect API key provided: {secret}. See https://example.com/keys.")
    assert MASKED in said, said
    # Nothing of the secret's distinctive parts survives.
    for piece in re.findall(r"[A-Za-z0-9]{4,}", secret):
        if piece.lower() != "bearer":
            assert piece not in said, (piece, said)


def test_configured_keys_are_masked_whole_or_in_part() -> None:
    key = "my-own-key-for-the-local-server-6789"
    said = scrub(f"key {key} and again my-own-k****6789 refused", secrets=(key,))
    assert key not in said and "my-own-k" not in said and "6789" not in said, said
    # Ordinary words that happen to share letters with a key are left alone.
    assert scrub("the operator must check the server", secrets=(key,)) == (
        "the operator must check the server"
    )


@pytest.mark.parametrize(
    "text",
    [
        "a" * 1_000_000,  # one endless token: a caller's prompt quoted back, say
        "ab-" * 300_000,
        "a" + "*" * 100_000,
        "sk-" * 100_000,
        "word... " * 100_000,
    ],
    ids=["long-token", "dashes", "asterisks", "prefixes", "ellipses"],
)
def test_masking_a_long_hostile_text_stays_cheap(text: str) -> None:
    started = time.perf_counter()
    said = scrub(text, secrets=("sk-proj-" + "A" * 156,))
    assert time.perf_counter() - started < 0.05
    assert len(said) <= 1000
