"""Anthropic's Messages surface end to end: the official `anthropic` SDK → gateway →
simulator, over real sockets, with Claude (passed through), GPT and Gemini (translated)
models behind it, and every request's metadata row matched by its request id."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest

from tests.conftest import RunningGateway

PROMPT = "Explain the difference between a list and a tuple, please. walrus-canary-5521"
MODELS = ("claude-haiku-4-5", "gpt-4o-mini", "gemini-2.5-flash")

WEATHER_TOOL: dict[str, Any] = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def client(gw: RunningGateway, key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key or gw.keys["alice"], max_retries=0)


def raw_post(
    gw: RunningGateway, path: str, body: object, headers: dict[str, str] | None = None
) -> httpx.Response:
    sent = {"x-api-key": gw.keys["alice"], "anthropic-version": "2023-06-01", **(headers or {})}
    return httpx.post(f"{gw.url}{path}", json=body, headers=sent, timeout=10)


@pytest.mark.parametrize("model", MODELS)
def test_create_answers_in_anthropics_shape_with_one_row(
    gateway: RunningGateway, model: str
) -> None:
    raw = client(gateway).messages.with_raw_response.create(
        model=model, max_tokens=200, messages=[{"role": "user", "content": PROMPT}]
    )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.content and message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    request_id = raw.headers["request-id"]
    assert raw.headers["x-request-id"] == request_id
    extra = message.model_dump()["x_routeplex"]
    assert extra["request_id"] == request_id and extra["model_used"] == model
    (row,) = gateway.metadata(expect=1)
    assert row["request_id"] == request_id and row["endpoint"] == "anthropic.messages"
    assert row["served_model"] == model and row["http_status"] == 200
    assert row["output_tokens"] == message.usage.output_tokens


@pytest.mark.parametrize("model", MODELS)
def test_stream_is_anthropics_event_sequence(gateway: RunningGateway, model: str) -> None:
    names: list[str] = []
    with client(gateway).messages.stream(
        model=model, max_tokens=200, messages=[{"role": "user", "content": PROMPT}]
    ) as stream:
        for event in stream:
            names.append(event.type)
        final = stream.get_final_message()
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert "content_block_start" in names and "content_block_stop" in names
    assert "message_delta" in names
    assert final.content[0].type == "text" and final.content[0].text
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0
    (row,) = gateway.metadata(expect=1)
    assert row["endpoint"] == "anthropic.messages" and row["http_status"] == 200
    assert row["served_model"] == model and row["output_tokens"] == final.usage.output_tokens


@pytest.mark.parametrize("model", MODELS)
def test_tool_round_trip_ends_with_text(gateway: RunningGateway, model: str) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "What is the weather in Paris? Use the tool."}
    ]
    first = client(gateway).messages.create(
        model=model,
        max_tokens=300,
        tools=[WEATHER_TOOL],
        messages=messages,  # type: ignore[list-item]
    )
    assert first.stop_reason == "tool_use"
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.name == "get_weather" and isinstance(call.input, dict)
    messages += [
        {"role": "assistant", "content": [block.model_dump() for block in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C"}],
        },
    ]
    second = client(gateway).messages.create(
        model=model,
        max_tokens=300,
        tools=[WEATHER_TOOL],
        messages=messages,  # type: ignore[list-item]
    )
    assert second.stop_reason == "end_turn"
    assert any(block.type == "text" for block in second.content)
    assert len(gateway.metadata(expect=2)) == 2


def test_routeplex_ai_routes_messages_too(gateway: RunningGateway) -> None:
    message = client(gateway).messages.create(
        model="routeplex-ai", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    extra = message.model_dump()["x_routeplex"]
    assert extra["routing_mode"] == "routeplex-ai" and extra["model_used"]
    (row,) = gateway.metadata(expect=1)
    assert row["requested_model"] == "routeplex-ai" and row["endpoint"] == "anthropic.messages"


def test_bearer_authorization_works_like_x_api_key(gateway: RunningGateway) -> None:
    body = {
        "model": "gpt-4o-mini",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
    }
    response = httpx.post(
        f"{gateway.url}/v1/messages",
        json=body,
        headers={
            "Authorization": f"Bearer {gateway.keys['alice']}",
            "anthropic-version": "2023-06-01",
        },
        timeout=10,
    )
    assert response.status_code == 200 and response.json()["type"] == "message"


def test_errors_use_anthropics_envelope(gateway: RunningGateway) -> None:
    with pytest.raises(anthropic.AuthenticationError) as refused:
        client(gateway, key="rpx_live_" + "x" * 40).messages.create(
            model="gpt-4o-mini", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.body["type"] == "error"  # type: ignore[index]
    assert refused.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]

    response = raw_post(
        gateway,
        "/v1/messages",
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in error["error"]["message"]
    assert response.headers["request-id"] == error["request_id"]

    response = raw_post(
        gateway,
        "/v1/messages",
        {"model": "no-such-model", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
    )
    assert (
        response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    )
    # A refused key has no account to record against; the two refused bodies have rows.
    rows = gateway.metadata(expect=2)
    assert sorted(r["http_status"] for r in rows) == [400, 400]


def test_server_tools_narrow_the_routing_to_anthropic_models(gateway: RunningGateway) -> None:
    body = {
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Search the web for the weather."}],
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 1}],
    }
    refused = raw_post(gateway, "/v1/messages", {**body, "model": "gpt-4o-mini"})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error" and "'anthropic' models" in error["message"]
    served = raw_post(gateway, "/v1/messages", {**body, "model": "claude-haiku-4-5"})
    assert served.status_code == 200, served.text
    routed = raw_post(gateway, "/v1/messages", {**body, "model": "routeplex-ai"})
    assert routed.status_code == 200, routed.text
    assert routed.json()["x_routeplex"]["provider"] == "anthropic"
    assert len(gateway.metadata(expect=3)) == 3


def test_a_prefill_goes_only_to_claude(gateway: RunningGateway) -> None:
    """An answer begun by the caller is continued by Claude; another model would answer it
    as a finished turn, so it is refused there rather than silently changed."""
    body = {
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": [{"type": "text", "text": "The colour is"}]},
        ],
    }
    refused = raw_post(gateway, "/v1/messages", {**body, "model": "gpt-4o-mini"})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "messages[1] (an assistant prefill to continue)" in error["message"]
    served = raw_post(gateway, "/v1/messages", {**body, "model": "claude-haiku-4-5"})
    assert served.status_code == 200, served.text
    routed = raw_post(gateway, "/v1/messages", {**body, "model": "routeplex-ai"})
    assert routed.status_code == 200, routed.text
    assert routed.json()["x_routeplex"]["provider"] == "anthropic"
    assert sorted(r["http_status"] for r in gateway.metadata(expect=3)) == [200, 200, 400]


@pytest.mark.parametrize("model", ("claude-haiku-4-5", "gpt-4o-mini"))
def test_count_tokens_is_free(gateway: RunningGateway, model: str) -> None:
    counted = client(gateway).messages.count_tokens(
        model=model, messages=[{"role": "user", "content": PROMPT}]
    )
    assert counted.input_tokens > 0
    more = client(gateway).messages.count_tokens(
        model=model, messages=[{"role": "user", "content": PROMPT * 10}]
    )
    assert more.input_tokens > counted.input_tokens
    assert gateway.metadata(expect=0) == []


def test_count_tokens_sizes_a_prompt_rather_than_bounding_it(gateway: RunningGateway) -> None:
    # Claude Code compacts its context by this count: admission's bound (a token a byte)
    # would have it compact at a quarter of the window. 36,000 characters of English text:
    # 6,000 tokens by o200k, 9,000 at four characters a token.
    for model in ("gpt-4o-mini", "gemini-2.5-flash"):
        counted = client(gateway).messages.count_tokens(
            model=model, messages=[{"role": "user", "content": "hello " * 6000}]
        )
        assert 4_500 <= counted.input_tokens <= 10_800, (model, counted.input_tokens)


def test_thinking_disabled_reaches_a_model_that_thinks_unless_told(
    gateway: RunningGateway,
) -> None:
    # Gemini 2.5 thinks by default: a small cap would go to thinking, and no text come back.
    answer = client(gateway).messages.create(
        model="gemini-2.5-flash",
        max_tokens=50,
        thinking={"type": "disabled"},
        messages=[{"role": "user", "content": PROMPT}],
    )
    assert answer.content and answer.content[0].type == "text", answer
    assert answer.usage.output_tokens <= 50


def test_models_in_anthropics_shape_with_paging(gateway: RunningGateway) -> None:
    sdk = client(gateway)
    first = sdk.models.list(limit=2)
    assert len(first.data) == 2 and first.has_more
    assert first.first_id == first.data[0].id and first.last_id == first.data[1].id
    everything = [m.id for m in sdk.models.list(limit=1000).data]
    assert "claude-haiku-4-5" in everything and "routeplex-ai" in everything
    after = sdk.models.list(limit=2, after_id=first.last_id)
    assert [m.id for m in after.data] == everything[2:4]
    before = sdk.models.list(limit=1, before_id=after.data[0].id)
    assert [m.id for m in before.data] == [first.data[1].id]
    model = sdk.models.retrieve("claude-haiku-4-5")
    assert model.type == "model" and model.display_name
    with pytest.raises(anthropic.NotFoundError):
        sdk.models.retrieve("no-such-model")
    # Without anthropic-version, the same path is OpenAI's list.
    openai_list = httpx.get(
        f"{gateway.url}/v1/models",
        headers={"Authorization": f"Bearer {gateway.keys['alice']}"},
        timeout=10,
    ).json()
    assert openai_list["object"] == "list"
    head = httpx.head(
        f"{gateway.url}/v1/models",
        headers={"x-api-key": gateway.keys["alice"], "anthropic-version": "2023-06-01"},
        timeout=10,
    )
    assert head.status_code == 200


# --- what Claude Code sends (found by running the real CLI against the gateway) -----------

CLAUDE_CODE_TOOLS: list[dict[str, Any]] = [
    {**WEATHER_TOOL, "name": "Agent"},
    {**WEATHER_TOOL, "name": "Bash", "defer_loading": True},
]


@pytest.mark.parametrize("model", ("claude-haiku-4-5", "gpt-4o-mini"))
def test_a_claude_code_session_ends(gateway: RunningGateway, model: str) -> None:
    # Claude Code asks 32,000 output tokens of every model, sends its environment as a system
    # turn after the first message, marks tools deferred, and comes back with a user turn
    # (a subagent's notification) after each tool round: every one of these was a 400 or an
    # endless loop.
    sdk = client(gateway)
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Create hello.txt, then list the directory."},
        {"role": "system", "content": [{"type": "text", "text": "# Environment\ncwd: /tmp"}]},
    ]
    turns = 0
    while True:
        turns += 1
        assert turns <= 4, "the agent loop did not end"
        with sdk.messages.stream(
            model=model,
            max_tokens=32_000,
            tools=CLAUDE_CODE_TOOLS,  # type: ignore[arg-type]
            messages=messages,  # type: ignore[arg-type]
        ) as stream:
            reply = stream.get_final_message()
        calls = [b for b in reply.content if b.type == "tool_use"]
        messages.append({"role": "assistant", "content": [b.model_dump() for b in reply.content]})
        if calls:
            results = [{"type": "tool_result", "tool_use_id": c.id, "content": "ok"} for c in calls]
            messages.append({"role": "user", "content": results})
        elif turns < 3:
            messages.append(
                {"role": "user", "content": "<task-notification>done</task-notification>"}
            )
        else:
            break
    assert reply.stop_reason == "end_turn"
    rows = gateway.metadata(expect=turns)
    assert len(rows) == turns and {r["http_status"] for r in rows} == {200}


def test_probes_and_token_counts_carry_what_clients_read(gateway: RunningGateway) -> None:
    for method in ("HEAD", "GET"):
        assert httpx.request(method, f"{gateway.url}/", timeout=10).status_code == 200
    counted = raw_post(
        gateway,
        "/v1/messages/count_tokens",
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert counted.status_code == 200 and counted.headers["request-id"].startswith("req_")
    assert counted.headers["x-request-id"] == counted.headers["request-id"]
    lost = httpx.get(
        f"{gateway.url}/v1/no-such-thing",
        headers={"anthropic-version": "2023-06-01"},
        timeout=10,
    )
    assert lost.status_code == 404 and lost.json()["error"]["type"] == "not_found_error"
