"""An error message never quotes the request: a canary in any string-typed field the gateway
checks (the OpenAI and native chat bodies, their headers, the estimate, an account's keys)
is refused naming the field and what it allows, and the canary appears nowhere in the
gateway's answer — body or headers — whichever provider's translation refused it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.api.test_admin_api import admin_key
from tests.conftest import RunningGateway

# A model of each translated family, and one served as OpenAI-shaped.
MODELS = ("gpt-4o-mini", "claude-3-5-haiku-20241022", "gemini-2.5-flash")

Body = dict[str, Any]


def user(content: Any) -> list[Body]:
    return [{"role": "user", "content": content}]


def chat_cases(c: Callable[[], str]) -> list[tuple[str, Body, dict[str, str]]]:
    """(label, OpenAI chat body, headers), one canary each, for one model."""
    hello = user("hello")
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": c()}}
    return [
        ("role", {"messages": [{"role": c(), "content": "hi"}]}, {}),
        ("part type", {"messages": user([{"type": c(), "text": "hi"}])}, {}),
        ("part type, object", {"messages": user([{"type": c(), c(): {"a": 1}}])}, {}),
        ("content", {"messages": [{"role": "user", "content": 7, "name": c()}]}, {}),
        ("stream", {"messages": hello, "stream": c()}, {}),
        ("stream_options", {"messages": hello, "stream_options": c()}, {}),
        ("max_tokens", {"messages": hello, "max_tokens": c()}, {}),
        ("max_completion_tokens", {"messages": hello, "max_completion_tokens": c()}, {}),
        ("n", {"messages": hello, "n": c()}, {}),
        ("temperature", {"messages": hello, "temperature": c()}, {}),
        ("top_p", {"messages": hello, "top_p": c()}, {}),
        ("presence_penalty", {"messages": hello, "presence_penalty": c()}, {}),
        ("frequency_penalty", {"messages": hello, "frequency_penalty": c()}, {}),
        ("tools", {"messages": hello, "tools": c()}, {}),
        ("tool type", {"messages": hello, "tools": [{"type": c()}]}, {}),
        ("tool_choice", {"messages": hello, "tools": [], "tool_choice": c()}, {}),
        ("stop", {"messages": hello, "stop": {c(): 1}}, {}),
        ("response_format", {"messages": hello, "response_format": c()}, {}),
        ("response_format.type", {"messages": hello, "response_format": {"type": c()}}, {}),
        ("tool_calls", {"messages": [{"role": "assistant", "tool_calls": c()}]}, {}),
        (
            "tool call arguments",
            {"messages": [*hello, {"role": "assistant", "tool_calls": [call]}, *hello]},
            {},
        ),
        ("image url", {"messages": user([{"type": "image_url", "image_url": c()}])}, {}),
        (
            "image url, no extension",
            {"messages": user([{"type": "image_url", "image_url": {"url": c()}}])},
            {},
        ),
        ("file", {"messages": user([{"type": "file", "file": {"file_data": c()}}])}, {}),
        ("logprobs", {"messages": hello, "logprobs": c()}, {}),
        ("strategy header", {"messages": hello}, {"X-RoutePlex-Strategy": c()}),
    ]


def assert_not_echoed(response: httpx.Response, canaries: list[str], label: str) -> None:
    assert 400 <= response.status_code < 500, (label, response.status_code, response.text)
    # A provider that refused a passed-through field may quote it in its own words, relayed
    # to the caller whose request it is (as the provider would answer them directly); the
    # gateway's own message before them must not.
    text = response.text.partition("Provider said:")[0]
    seen = text + "".join(f"{k}: {v}\n" for k, v in response.headers.items())
    for canary in canaries:
        assert canary not in seen, (label, seen)


def test_no_error_quotes_a_field_of_the_request(gateway: RunningGateway) -> None:
    canaries: list[str] = []

    def c() -> str:
        canaries.append(f"canary{secrets.token_hex(8)}")
        return canaries[-1]

    auth = {"Authorization": f"Bearer {gateway.keys['alice']}"}

    def post(path: str, body: Body, headers: dict[str, str], label: str) -> None:
        response = httpx.post(
            f"{gateway.url}{path}", json=body, headers={**auth, **headers}, timeout=30
        )
        assert_not_echoed(response, canaries, label)

    refused = 0
    for model in MODELS:
        for label, body, headers in chat_cases(c):
            response = httpx.post(
                f"{gateway.url}/v1/chat/completions",
                json={"model": model, **body},
                headers={**auth, **headers},
                timeout=30,
            )
            if response.status_code == 200:
                continue  # a field this model's provider takes as it is (passed through)
            assert_not_echoed(response, canaries, f"{model}: {label}")
            refused += 1
    # Every case is refused by at least the translated families.
    assert refused >= 2 * len(chat_cases(c)), refused

    post("/v1/chat/completions", {"model": c(), "messages": user("hi")}, {}, "model")
    hello = user("hello")
    native: list[tuple[str, Body]] = [
        ("model", {"model": c(), "messages": hello}),
        ("mode", {"mode": c(), "messages": hello}),
        ("strategy", {"mode": "routeplex-ai", "strategy": c(), "messages": hello}),
        ("stream_mode", {"model": "gpt-4o-mini", "stream_mode": c(), "messages": hello}),
        ("test_mode", {"model": "gpt-4o-mini", "test_mode": c(), "messages": hello}),
        ("enhance_prompt", {"model": "gpt-4o-mini", "enhance_prompt": c(), "messages": hello}),
        ("stream", {"model": "gpt-4o-mini", "stream": c(), "messages": hello}),
        ("role", {"model": "gpt-4o-mini", "messages": [{"role": c(), "content": "hi"}]}),
        (
            "part type",
            {"model": "claude-3-5-haiku-20241022", "messages": user([{"type": c()}])},
        ),
    ]
    for label, body in native:
        post("/api/v1/chat", body, {}, f"native {label}")
    estimate: list[tuple[str, Body]] = [
        ("model", {"model": c(), "messages": hello}),
        ("mode", {"mode": c(), "messages": hello}),
        ("max_output_tokens", {"max_output_tokens": c(), "messages": hello}),
        ("strategy", {"model": "routeplex-ai", "strategy": c(), "messages": hello}),
        ("test_mode", {"model": "routeplex-ai", "test_mode": c(), "messages": hello}),
        ("role", {"messages": [{"role": c(), "content": "hi"}]}),
    ]
    for label, body in estimate:
        post("/api/v1/chat/estimate", body, {}, f"estimate {label}")
    keys: list[tuple[str, Body]] = [
        ("allowed_models", {"allowed_models": [c()]}),
        ("limits field", {"limits": {c(): 1}}),
        ("limits value", {"limits": {"rpm": c()}}),
        ("expires_in_days", {"expires_in_days": c()}),
    ]
    for label, body in keys:
        post("/api/v1/account/keys", body, {}, f"keys {label}")

    def call(method: str, path: str, body: Body | None, key: str, label: str) -> None:
        response = httpx.request(
            method,
            f"{gateway.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert_not_echoed(response, canaries, label)

    alice = gateway.keys["alice"]
    call("GET", f"/api/v1/usage?days={c()}", None, alice, "usage days")
    call("DELETE", f"/api/v1/account/keys/{c()}", None, alice, "key id")
    admin = admin_key(gateway)
    account = httpx.post(
        f"{gateway.url}/admin/accounts",
        json={"name": "echo"},
        headers={"Authorization": f"Bearer {admin}"},
    ).json()["data"]["id"]
    operator: list[tuple[str, str, Body | None]] = [
        ("POST", "/admin/accounts", {"name": "n1", "plan": c()}),
        ("POST", "/admin/accounts", {"name": c() * 10}),
        ("POST", "/admin/accounts", {"name": "echo", "email": c()}),  # the name is taken
        ("PATCH", f"/admin/accounts/{account}", {"limits": {c(): 1}}),
        ("PATCH", f"/admin/accounts/{account}", {"disabled": c()}),
        ("PATCH", f"/admin/accounts/{account}", {"plan": c()}),
        ("GET", f"/admin/accounts/{c()}", None),
        ("POST", f"/admin/accounts/{account}/keys", {"allowed_models": [c()]}),
        ("DELETE", f"/admin/keys/{c()}", None),
        ("GET", f"/admin/usage?days={c()}", None),
    ]
    for method, path, body in operator:
        call(method, path, body, admin, f"admin {method} {path}")
    assert len(canaries) > 90


@pytest.mark.parametrize("model", ["claude-3-5-haiku-20241022", "gemini-2.5-flash"])
def test_an_unsupported_part_names_the_field_and_the_allowed_types(
    gateway: RunningGateway, model: str
) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": model, "messages": user([{"type": "canary_part"}])},
        headers={"Authorization": f"Bearer {gateway.keys['alice']}"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "canary_part" not in response.text
    assert error["param"] == "messages[0].content[0].type"
    assert "'messages[0].content[0].type' must be one of" in error["message"]
    assert "image_url" in error["message"] and "file" in error["message"]
