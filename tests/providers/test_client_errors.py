"""A provider refusing the request itself (HTTP 400, 404, 413, 422) is the caller's 400, on
every provider: the official SDK does not retry it, the gateway neither retries nor falls
back, the provider's words reach the caller, and a context-window overflow carries OpenAI's
`context_length_exceeded` code so callers can recognise it."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from routeplex_gateway.errors import GatewayError, scrub
from routeplex_gateway.providers.base import upstream_error
from tests.conftest import RunningGateway
from tests.support.openai_schema import assert_valid

MODELS = {
    "openai": ("gpt-4o-mini", "/v1/chat/completions"),
    "anthropic": ("claude-3-5-haiku-20241022", "/v1/messages"),
    "gemini": ("gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:"),
}
HELLO: Any = [{"role": "user", "content": "hello"}]


def _upstream_calls(gw: RunningGateway, path: str) -> int:
    seen = httpx.get(f"{gw.simulator_url}/_simulator/requests").json()["requests"]
    return sum(1 for r in seen if r["path"].startswith(path))


@pytest.mark.parametrize("provider", list(MODELS))
def test_client_errors_are_the_callers_and_never_retried(
    gateway: RunningGateway, provider: str
) -> None:
    model, path = MODELS[provider]
    # The SDK's own retries stay on (2 by default): a 5xx would be sent three times.
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.keys["alice"])
    httpx.post(
        f"{gateway.simulator_url}/_simulator/faults",
        json={"model": model, "status": 400, "code": "context_length_exceeded", "count": 5},
    )
    httpx.delete(f"{gateway.simulator_url}/_simulator/requests")  # the log keeps only a few
    before = _upstream_calls(gateway, path)
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=model, messages=HELLO)
    assert _upstream_calls(gateway, path) == before + 1
    body = raised.value.response.json()
    assert_valid(body, "ErrorResponse")
    assert body["error"]["code"] == "context_length_exceeded"
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == "messages"
    assert "Provider said:" in body["error"]["message"]

    httpx.delete(f"{gateway.simulator_url}/_simulator/faults")
    for status in (404, 413, 422):
        httpx.post(
            f"{gateway.simulator_url}/_simulator/faults",
            json={"model": model, "status": status, "count": 5},
        )
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model=model, messages=HELLO)
        assert refused.value.code == "bad_request", status
        httpx.delete(f"{gateway.simulator_url}/_simulator/faults")
    assert _upstream_calls(gateway, path) == before + 4
    rows = gateway.metadata(expect=4, timeout=15)
    assert [r["http_status"] for r in rows] == [400] * 4
    assert [r["error_code"] for r in rows] == ["context_length_exceeded"] + ["bad_request"] * 3
    assert all(r["attempts"] == 1 for r in rows)


@pytest.mark.parametrize(
    "message",
    [
        "prompt is too long: 208310 tokens > 200000 maximum",
        "input length and `max_tokens` exceed context limit: 199000 + 8192 > 200000",
        "The input token count (1234567) exceeds the maximum number of tokens allowed (1048576).",
        "This model's maximum context length is 128000 tokens.",
    ],
)
def test_each_providers_overflow_wording_is_recognised(message: str) -> None:
    error = upstream_error("p", 400, message)
    assert error.code.value == "context_length_exceeded" and not error.retryable
    other = upstream_error("p", 400, "messages: text content blocks must be non-empty")
    assert other.code.value == "bad_request" and not other.retryable


def test_relayed_provider_text_is_scrubbed() -> None:
    leaked = "Incorrect API key provided: sk-proj-abcdef123456. Key AIzaSyA1234567890abc bad\x00"
    error = GatewayError(upstream_error("p", 400, leaked).code, "m", provider_message=leaked)
    assert error.provider_message is not None
    assert "sk-proj" not in error.provider_message and "AIza" not in error.provider_message
    assert "\x00" not in error.provider_message
    assert len(scrub("x" * 5000)) == 1000
