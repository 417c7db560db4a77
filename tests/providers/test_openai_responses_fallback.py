"""The router with a Responses request, over real sockets to the simulator: OpenAI's
deployments get the caller's body at `/v1/responses`, and a failure before the first content
falls back — to another OpenAI model, or to Claude, which gets the request translated from
its typed shape — while the caller's own 4xx is never retried."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from routeplex_gateway.canonical import ChatRequest, Message, NativeRequest, Text, TextDelta
from routeplex_gateway.config import Settings
from routeplex_gateway.errors import ErrorCode, GatewayError
from routeplex_gateway.exchange import Exchange
from routeplex_gateway.metering.record import Endpoint
from routeplex_gateway.providers import ProviderRegistry
from routeplex_gateway.routing.catalog import build_catalog
from routeplex_gateway.routing.router import Router

BODY: dict[str, Any] = {"model": "gpt-4o", "input": "Say something.", "store": True}


def _request(*, stream: bool) -> ChatRequest:
    return ChatRequest(
        messages=[Message("user", (Text("Say something."),))],
        stream=stream,
        max_output_tokens=256,
        native=NativeRequest(wire="openai-responses", body=dict(BODY)),
    )


@asynccontextmanager
async def router(simulator_url: str) -> AsyncIterator[Router]:
    made = Router(build_catalog(Settings(), simulator_url=simulator_url), ProviderRegistry())
    try:
        yield made
    finally:
        await made.providers.close()


def _plan(made: Router, *models: str) -> Any:
    return made.plan([made.catalog.models[m] for m in models])


async def _fault(simulator_url: str, **fault: Any) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{simulator_url}/_simulator/faults", json=fault)
        assert response.status_code == 201, response.text


async def _paths(simulator_url: str) -> list[str]:
    async with httpx.AsyncClient() as client:
        seen = (await client.get(f"{simulator_url}/_simulator/requests")).json()["requests"]
        await client.delete(f"{simulator_url}/_simulator/requests")
    return [entry["path"] for entry in seen]


@pytest.mark.parametrize(
    ("fault", "fallback", "paths", "wire"),
    [
        # Cut among the opening events: another OpenAI model, by the same passthrough.
        ({"cut_after_chunks": 2}, "gpt-4o-mini", ["/v1/responses"] * 2, "openai-responses"),
        # OpenAI's own mid-stream failure before content: Claude, translated.
        (
            {"malformed_after_chunks": 2},
            "claude-sonnet-4-20250514",
            ["/v1/responses", "/v1/messages"],
            "anthropic",
        ),
        ({"status": 503}, "gpt-4o-mini", ["/v1/responses"] * 2, "openai-responses"),
    ],
)
async def test_a_stream_failing_before_content_falls_back(
    simulator_url: str, fault: dict[str, Any], fallback: str, paths: list[str], wire: str
) -> None:
    await _paths(simulator_url)
    await _fault(simulator_url, model="gpt-4o", count=1, **fault)
    async with router(simulator_url) as made:
        ex = Exchange(endpoint=Endpoint.OPENAI_CHAT)
        started = await made.open_stream(ex, _request(stream=True), _plan(made, "gpt-4o", fallback))
        rest = [chunk async for chunk in started.rest]
    assert ex.attempts == 2 and ex.model is not None and ex.model.id == fallback
    assert started.stream.wire == wire and started.first is not None
    text = "".join(
        d.text for c in [started.first, *rest] for d in c.deltas if isinstance(d, TextDelta)
    )
    assert text and started.stream.usage.output_tokens
    assert await _paths(simulator_url) == paths


async def test_the_callers_4xx_is_not_retried(simulator_url: str) -> None:
    await _paths(simulator_url)
    await _fault(simulator_url, model="gpt-4o", count=1, status=400)
    async with router(simulator_url) as made:
        ex = Exchange(endpoint=Endpoint.OPENAI_CHAT)
        with pytest.raises(GatewayError) as raised:
            await made.complete(ex, _request(stream=False), _plan(made, "gpt-4o", "gpt-4o-mini"))
    assert raised.value.code == ErrorCode.BAD_REQUEST and ex.attempts == 1
    assert await _paths(simulator_url) == ["/v1/responses"]


async def test_a_5xx_falls_back_and_the_answer_is_native(simulator_url: str) -> None:
    await _paths(simulator_url)
    await _fault(simulator_url, model="gpt-4o", count=1, status=500)
    async with router(simulator_url) as made:
        ex = Exchange(endpoint=Endpoint.OPENAI_CHAT)
        answer = await made.complete(
            ex, _request(stream=False), _plan(made, "gpt-4o", "gpt-4o-mini")
        )
    assert ex.attempts == 2 and answer.wire == "openai-responses"
    native = answer.native_for("openai-responses")
    assert native is not None and native["model"] == "gpt-4o-mini" and native["store"] is False
    assert answer.text() and answer.usage.known
    assert await _paths(simulator_url) == ["/v1/responses"] * 2
