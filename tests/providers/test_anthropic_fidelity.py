"""Anthropic fidelity over real sockets: exact bills (1-hour cache writes), faithful errors,
finish reasons and translated options — the official `openai` SDK → gateway → the simulator
speaking Anthropic's wire format, or the provider alone against recorded traffic."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from routeplex_gateway.app import create_app
from routeplex_gateway.canonical import Deployment, Finish, Refusal, RefusalDelta
from routeplex_gateway.config import ModelOverride
from routeplex_gateway.metering.pricing import lookup_price
from routeplex_gateway.providers import anthropic
from tests.conftest import RunningGateway, gateway_settings
from tests.support.accounts import create_account_with_key
from tests.support.cassettes import Exchange, load, replay
from tests.support.chat import openai_request
from tests.support.servers import serve_in_thread

MODEL = "claude-sonnet-4-20250514"  # $3 in, $15 out, $3.75 5-minute writes, $6 1-hour writes
MTOK = Decimal(10) ** 6
HELLO: Any = [{"role": "user", "content": "hello"}]


def _client(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.keys["alice"], max_retries=0)


def _upstream(gw: RunningGateway) -> dict[str, Any]:
    seen = httpx.get(f"{gw.simulator_url}/_simulator/requests").json()["requests"]
    body: dict[str, Any] = [r["body"] for r in seen if r["path"] == "/v1/messages"][-1]
    return body


# --- 1. 1-hour cache writes -------------------------------------------------------------------


def test_usage_keeps_the_one_hour_writes_apart() -> None:
    [exchange] = load("anthropic/messages_nonstream_basic.yaml")
    recorded = anthropic.completion(_json(exchange.body), answer_tool=False).usage
    assert recorded.cache_write_1h_tokens == 0  # the recording reports the (empty) split
    usage = anthropic.parse_usage(
        {
            "input_tokens": 10,
            "cache_creation_input_tokens": 100_000,
            "cache_read_input_tokens": 0,
            "cache_creation": {
                "ephemeral_5m_input_tokens": 0,
                "ephemeral_1h_input_tokens": 100_000,
            },
            "output_tokens": 0,
        }
    )
    assert usage.cache_write_tokens == 100_000 and usage.cache_write_1h_tokens == 100_000
    price = lookup_price(MODEL, "anthropic")
    assert price is not None
    # The example: 100k one-hour writes are $0.60, not the 5-minute $0.375.
    assert price.cost(usage) == (10 * Decimal(3) + 100_000 * Decimal(6)) / MTOK
    # Writes without the split (older API versions) stay at the 5-minute rate, split unknown.
    unsplit = anthropic.parse_usage({"input_tokens": 1, "cache_creation_input_tokens": 5})
    assert unsplit.cache_write_1h_tokens is None


def test_one_hour_cache_writes_are_billed_at_their_rate(gateway: RunningGateway) -> None:
    long_lived = {"type": "ephemeral", "ttl": "1h"}
    system = [{"type": "text", "text": "canary " * 50, "cache_control": long_lived}]
    reply = _client(gateway).chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": system},  # type: ignore[list-item]
            {"role": "user", "content": "hello"},
        ],
    )
    assert _upstream(gateway)["system"][0]["cache_control"] == long_lived  # passed through
    details = reply.model_dump()["x_routeplex"]["usage_details"]
    writes = details["cache_write_tokens"]
    assert writes >= 50 and details["cache_write_1h_tokens"] == writes
    assert reply.usage is not None
    prompt, output = reply.usage.prompt_tokens, reply.usage.completion_tokens
    [row] = gateway.metadata(expect=1, timeout=15)
    assert row["cache_write_tokens"] == writes
    expected = ((prompt - writes) * Decimal(3) + writes * Decimal(6) + output * Decimal(15)) / MTOK
    assert Decimal(row["cost_picousd"]) / 10**12 == expected


def _json(raw: bytes) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(raw)
    return data


# --- 3. reasoning tokens: unknown is not zero -----------------------------------------------


def test_thinking_leaves_reasoning_tokens_unknown(gateway: RunningGateway) -> None:
    hello: Any = [{"role": "user", "content": "hello"}]
    thought = _client(gateway).chat.completions.create(
        model=MODEL, messages=hello, reasoning_effort="low"
    )
    assert "thinking" in _upstream(gateway)
    assert thought.usage is not None and thought.usage.completion_tokens > 0
    # Omitted from OpenAI's usage (its schema has no null there), null in the details.
    assert thought.model_dump(exclude_unset=True)["usage"]["completion_tokens_details"] == {}
    assert thought.model_dump()["x_routeplex"]["usage_details"]["reasoning_tokens"] is None
    chunks = list(
        _client(gateway).chat.completions.create(
            model=MODEL, messages=hello, reasoning_effort="low", stream=True
        )
    )
    final = chunks[-1].model_dump(exclude_unset=True)
    assert final["usage"]["completion_tokens_details"] == {}
    assert final["x_routeplex"]["usage_details"]["reasoning_tokens"] is None

    plain = _client(gateway).chat.completions.create(model=MODEL, messages=hello)
    assert plain.model_dump(exclude_unset=True)["usage"]["completion_tokens_details"] == {
        "reasoning_tokens": 0
    }
    rows = gateway.metadata(expect=3, timeout=15)
    assert [r["reasoning_tokens"] for r in rows] == [None, None, 0]


# --- 5. refusals ------------------------------------------------------------------------------


def test_a_refusal_is_a_refusal_part() -> None:
    data = {
        "id": "m",
        "model": "c",
        "content": [{"type": "text", "text": "I can't help with that."}],
        "stop_reason": "refusal",
        "usage": {"input_tokens": 1, "output_tokens": 5},
    }
    answer = anthropic.completion(data, answer_tool=False)
    # The refusal's text, and no answer text (OpenAI's `refusal`, `content` null).
    assert answer.parts == [Refusal("I can't help with that.")] and answer.text() == ""
    assert answer.finish_reason == "content_filter"
    silent = anthropic.completion({**data, "content": []}, answer_tool=False)
    assert silent.parts == [Refusal(anthropic.REFUSAL_NOTE)]


async def test_a_streamed_refusal_sets_refusal() -> None:
    [minimal] = load("anthropic/messages_stream_text_minimal.yaml")
    refused = minimal.body.replace(b'"stop_reason":"end_turn"', b'"stop_reason":"refusal"')
    assert refused != minimal.body
    provider = anthropic.AnthropicProvider()
    request = openai_request({"messages": HELLO}, stream=True)
    try:
        with replay([Exchange({}, 200, "text/event-stream", refused)]) as url:
            stream = await provider.stream(request, _deployment(url))
            chunks = [chunk async for chunk in stream]
    finally:
        await provider.close()
    deltas = [d for c in chunks for d in c.deltas]
    assert deltas[-2:] == [RefusalDelta(anthropic.REFUSAL_NOTE), Finish("content_filter")]
    assert stream.finish_reason == "content_filter"


def _deployment(url: str) -> Deployment:
    return Deployment(
        provider="anthropic", kind="anthropic", base_url=url, api_key="k", upstream_model="claude-x"
    )


# --- 6. mid-stream overload, and the opening chunk held back ----------------------------------


def _fault(gw: RunningGateway, **fault: Any) -> None:
    response = httpx.post(f"{gw.simulator_url}/_simulator/faults", json={"count": 1, **fault})
    assert response.status_code == 201, response.text


def test_overload_before_any_content_falls_back(tmp_path: Path, simulator_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    settings = gateway_settings(
        data, models={"claude-3-5-haiku-20241022": ModelOverride(fallbacks=["claude-haiku-4-5"])}
    )
    gw = RunningGateway(url="", data_dir=data, simulator_url=simulator_url)
    gw.keys["alice"] = create_account_with_key(settings, "alice")
    with serve_in_thread(create_app(settings, simulator_url=simulator_url)) as url:
        gw.url = url
        # message_start, content_block_start and ping, then `event: error` overloaded_error:
        # the caller has been sent nothing yet, so the fallback model answers instead.
        _fault(gw, model="claude-3-5-haiku-20241022", malformed_after_chunks=3)
        chunks = list(
            _client(gw).chat.completions.create(
                model="claude-3-5-haiku-20241022", messages=HELLO, stream=True
            )
        )
        roles = [c.choices[0].delta.role for c in chunks if c.choices]
        assert roles.count("assistant") == 1  # one opening chunk, the fallback's
        extra = chunks[-1].model_dump()["x_routeplex"]
        assert extra["fallback_used"] and extra["model_used"] == "claude-haiku-4-5"

        # After content, there is no going back: the stream ends with the error it names.
        _fault(gw, model="claude-3-5-haiku-20241022", malformed_after_chunks=5)
        with pytest.raises(openai.APIError) as raised:
            list(
                _client(gw).chat.completions.create(
                    model="claude-3-5-haiku-20241022", messages=HELLO, stream=True
                )
            )
        assert raised.value.code == "provider_unavailable"
        rows = gw.metadata(expect=2, timeout=15)
    assert [r["error_code"] for r in rows] == [None, "provider_unavailable"]


# --- 9. temperature and top_p on models that refuse the pair ---------------------------------


def test_top_p_is_dropped_where_the_catalog_says_the_pair_is_refused(
    gateway: RunningGateway,
) -> None:
    for model, keeps_top_p in (("claude-haiku-4-5", False), ("claude-3-5-haiku-20241022", True)):
        # The simulator refuses the pair for Claude 4.5 models, as Anthropic does.
        reply = _client(gateway).chat.completions.create(
            model=model, messages=HELLO, temperature=0.5, top_p=0.9
        )
        assert reply.choices[0].message.content
        sent = _upstream(gateway)
        assert sent["temperature"] == 0.5
        assert ("top_p" in sent) is keeps_top_p, model
    # top_p alone is still sent.
    _client(gateway).chat.completions.create(model="claude-haiku-4-5", messages=HELLO, top_p=0.9)
    assert _upstream(gateway)["top_p"] == 0.9


# --- 7. options are mapped, refused or (documented as) ignored -----------------------------------


def test_logprobs_are_refused_naming_the_field_and_seed_is_ignored(
    gateway: RunningGateway,
) -> None:
    for options in ({"logprobs": True}, {"top_logprobs": 2}):
        with pytest.raises(openai.BadRequestError) as raised:
            _client(gateway).chat.completions.create(model=MODEL, messages=HELLO, **options)
        assert raised.value.param == next(iter(options))
        assert raised.value.code == "validation_error"
    reply = _client(gateway).chat.completions.create(model=MODEL, messages=HELLO, seed=7)
    assert reply.choices[0].message.content
    assert "seed" not in _upstream(gateway)  # README: ignored on Anthropic


# --- 14. cache_control on tool definitions ----------------------------------------------------


def test_tool_cache_control_is_passed_on(gateway: RunningGateway) -> None:
    cached = {"type": "ephemeral"}
    tools: Any = [
        {
            "type": "function",
            "function": {"name": "lookup", "description": "Look things up " * 20},
            "cache_control": cached,
        },
        {"type": "function", "function": {"name": "other", "cache_control": cached}},
    ]
    reply = _client(gateway).chat.completions.create(
        model=MODEL, messages=HELLO, tools=tools, tool_choice="none"
    )
    sent = _upstream(gateway)["tools"]
    assert [t.get("cache_control") for t in sent] == [cached, cached]
    # The simulator counts the tools up to the breakpoint as a cache write.
    assert reply.model_dump()["x_routeplex"]["usage_details"]["cache_write_tokens"] > 0
