"""The OpenAI dialect end to end: the official `openai` SDK → gateway → simulator, over
real sockets, with every body and chunk checked against OpenAI's own schema."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.conftest import RunningGateway
from tests.support.openai_schema import assert_valid

PROMPT = "Explain the difference between a list and a tuple, please. zebra-canary-7731"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city", "unit"],
        },
    },
}


def client(gw: RunningGateway, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key or gw.keys["alice"], max_retries=0)


def raw_post(gw: RunningGateway, body: object, **kwargs: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {gw.keys['alice']}"}
    headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
    return httpx.post(
        f"{gw.url}/v1/chat/completions", json=body, headers=headers, timeout=10, **kwargs
    )  # type: ignore[arg-type]


def test_non_streaming_completion(gateway: RunningGateway) -> None:
    reply = client(gateway).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}]
    )
    body = reply.model_dump(exclude_unset=True)
    assert_valid(body, "CreateChatCompletionResponse")
    assert reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model.startswith("gpt-4o-mini")
    extra = body["x_routeplex"]
    assert extra["model_used"] == "gpt-4o-mini"
    assert extra["provider"] == "openai"
    assert extra["routing_mode"] == "manual"
    assert extra["fallback_used"] is False and extra["attempts"] == 1
    assert extra["request_id"].startswith("req_")
    assert extra["cost_usd"] > 0
    assert reply.usage is not None and reply.usage.prompt_tokens > 0

    rows = gateway.metadata(expect=1)
    assert len(rows) == 1
    row = rows[0]
    assert row["request_id"] == extra["request_id"]
    assert row["served_model"] == "gpt-4o-mini" and row["requested_model"] == "gpt-4o-mini"
    assert row["input_tokens"] == reply.usage.prompt_tokens
    assert row["output_tokens"] == reply.usage.completion_tokens
    assert row["http_status"] == 200 and row["error_code"] is None
    assert row["cost_picousd"] > 0
    stored = gateway.stored_bytes()
    assert b"zebra-canary-7731" not in stored
    assert reply.choices[0].message.content.encode()[:40] not in stored


def test_alias_and_provider_prefixed_names_resolve(gateway: RunningGateway) -> None:
    reply = client(gateway).chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.model_dump()["x_routeplex"]["model_used"] == "gpt-4o-mini"


def test_streaming_ends_with_usage_and_done(gateway: RunningGateway) -> None:
    stream = client(gateway).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    chunks = list(stream)
    for chunk in chunks:
        assert_valid(chunk.model_dump(exclude_unset=True), "CreateChatCompletionStreamResponse")
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None  # usage although not asked for
    assert last.model_dump()["x_routeplex"]["model_used"] == "gpt-4o-mini"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"

    row = gateway.metadata(expect=1)[0]
    assert row["output_tokens"] == last.usage.completion_tokens
    assert row["ttfb_ms"] is not None and row["ttfb_ms"] <= row["latency_ms"]
    stored = gateway.stored_bytes()
    assert b"zebra-canary-7731" not in stored and text.encode()[:30] not in stored


def test_stream_framing_is_openai_sse(gateway: RunningGateway) -> None:
    body = {
        "model": "gpt-4o-mini",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hello"}],
    }
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json=body,
        timeout=10,
        headers={"Authorization": f"Bearer {gateway.keys['alice']}"},
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = r.read().decode()
    events = raw.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    payloads = [json.loads(e[len("data: ") :]) for e in events[:-2]]
    assert all(e.startswith("data: ") for e in events[:-1])
    usage_chunks = [p for p in payloads if p.get("usage")]
    assert len(usage_chunks) == 1 and usage_chunks[0] is payloads[-1]


def test_tool_calls_non_streaming_and_streaming(gateway: RunningGateway) -> None:
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    reply = client(gateway).chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL], tool_choice="required"
    )
    assert_valid(reply.model_dump(exclude_unset=True), "CreateChatCompletionResponse")
    call = reply.choices[0].message.tool_calls[0]
    assert reply.choices[0].finish_reason == "tool_calls"
    args = json.loads(call.function.arguments)
    assert call.function.name == "get_weather" and {"city", "unit"} <= set(args)

    stream = client(gateway).chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL], stream=True
    )
    fragments: list[str] = []
    name = None
    for chunk in stream:
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or ():
                name = name or (tc.function.name if tc.function else None)
                fragments.append((tc.function.arguments or "") if tc.function else "")
    assert name == "get_weather"
    assert set(json.loads("".join(fragments))) >= {"city", "unit"}

    # The tool result goes back and the model answers in text.
    follow_up = [
        *messages,
        reply.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"},
    ]
    answer = client(gateway).chat.completions.create(
        model="gpt-4o-mini", messages=follow_up, tools=[WEATHER_TOOL]
    )
    assert answer.choices[0].message.content
    assert b"18C and sunny" not in gateway.stored_bytes()


def test_standard_fields_pass_through(gateway: RunningGateway) -> None:
    httpx.delete(f"{gateway.simulator_url}/_simulator/requests")
    body = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        ],
        "temperature": 0.3,
        "top_p": 0.9,
        "stop": ["\n\n"],
        "max_tokens": 50,
        "seed": 7,
        "response_format": {"type": "json_object"},
        "user": "end-user-1",
        "presence_penalty": 0.1,
        "logit_bias": {"50256": -100},
        "tools": [WEATHER_TOOL],
        "tool_choice": "none",
        "parallel_tool_calls": False,
    }
    response = raw_post(gateway, body)
    assert response.status_code == 200, response.text
    seen = httpx.get(f"{gateway.simulator_url}/_simulator/requests").json()
    upstream = seen["requests"][-1]["body"] if isinstance(seen, dict) else seen[-1]["body"]
    for name, value in body.items():
        assert upstream[name] == value, name


def test_max_tokens_gives_length(gateway: RunningGateway) -> None:
    reply = client(gateway).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}], max_tokens=3
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens <= 3


def test_models_list(gateway: RunningGateway) -> None:
    models = client(gateway).models.list()
    ids = [m.id for m in models]
    assert "routeplex-ai" in ids and "gpt-4o-mini" in ids
    raw = httpx.get(
        f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {gateway.keys['alice']}"}
    ).json()
    assert_valid(raw, "ListModelsResponse")
    # A RoutePlex key in Anthropic's header is the same key (as on /v1/messages).
    by_x_api_key = httpx.get(
        f"{gateway.url}/v1/models", headers={"x-api-key": gateway.keys["alice"]}
    )
    assert by_x_api_key.status_code == 200 and by_x_api_key.json() == raw


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"model": "gpt-4o-mini", "messages": []}, 400, "empty_messages", "messages"),
        ({"model": "gpt-4o-mini"}, 400, "validation_error", "messages"),
        ({"messages": [{"role": "user", "content": "x"}]}, 400, "validation_error", "model"),
        (
            {"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]},
            400,
            "invalid_model",
            "model",
        ),
        (
            {"model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "x"}]},
            400,
            "validation_error",
            "messages[0].role",
        ),
        ({"model": "gpt-4o-mini", "messages": "hello"}, 400, "validation_error", "messages"),
        (
            {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "x"}],
                "max_tokens": 10**12,
            },
            400,
            "validation_error",
            "max_tokens",
        ),
        (
            {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "x"}],
                "max_tokens": 10**6,
            },
            400,
            "validation_error",
            "max_tokens",
        ),
        (
            {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "x"}],
                "temperature": "hot",
            },
            400,
            "validation_error",
            "temperature",
        ),
        (
            {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "x"}],
                "stream": "yes",
            },
            400,
            "validation_error",
            "stream",
        ),
        ([1, 2, 3], 400, "validation_error", None),
    ],
)
def test_bad_requests_get_openai_errors(
    gateway: RunningGateway, body: object, status: int, code: str, param: str | None
) -> None:
    response = raw_post(gateway, body)
    assert response.status_code == status
    payload = response.json()
    assert_valid(payload, "ErrorResponse")
    assert payload["error"]["code"] == code
    assert payload["error"]["param"] == param


def test_invalid_json_and_wrong_content_type(gateway: RunningGateway) -> None:
    auth = {"Authorization": f"Bearer {gateway.keys['alice']}"}
    bad = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        content=b"{not json",
        headers={**auth, "Content-Type": "application/json"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
    form = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        content=b"a=b",
        headers={**auth, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 415
    assert_valid(form.json(), "ErrorResponse")


def test_oversize_body_is_413(gateway: RunningGateway) -> None:
    big = "x" * (9 * 1024 * 1024)
    response = raw_post(
        gateway, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": big}]}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_authentication_errors(gateway: RunningGateway) -> None:
    with pytest.raises(openai.AuthenticationError) as missing:
        client(gateway, key="rp_live_not-a-real-key").chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
    assert missing.value.code == "invalid_api_key"
    response = httpx.post(f"{gateway.url}/v1/chat/completions", json={})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert_valid(response.json(), "ErrorResponse")


def test_provider_errors_are_mapped_and_not_stored(gateway: RunningGateway) -> None:
    httpx.post(
        f"{gateway.simulator_url}/_simulator/faults",
        json={"model": "gpt-4.1-nano", "status": 400, "count": 1},
    )
    with pytest.raises(openai.APIStatusError) as failure:
        client(gateway).chat.completions.create(
            model="gpt-4.1-nano", messages=[{"role": "user", "content": PROMPT}]
        )
    assert failure.value.status_code == 400  # the provider refused the request itself
    assert failure.value.code == "bad_request"
    httpx.post(
        f"{gateway.simulator_url}/_simulator/faults",
        json={"model": "gpt-4.1-nano", "status": 503, "count": 1},
    )
    with pytest.raises(openai.APIStatusError) as unavailable:
        client(gateway).chat.completions.create(
            model="gpt-4.1-nano", messages=[{"role": "user", "content": PROMPT}]
        )
    assert unavailable.value.status_code == 503
    assert unavailable.value.code == "provider_unavailable"
    rows = gateway.metadata(expect=2)
    assert [r["error_code"] for r in rows] == ["bad_request", "provider_unavailable"]
    assert [r["http_status"] for r in rows] == [400, 503]
    assert b"zebra-canary-7731" not in gateway.stored_bytes()


def test_stream_cut_mid_way_ends_with_an_error_event(gateway: RunningGateway) -> None:
    httpx.post(
        f"{gateway.simulator_url}/_simulator/faults",
        json={"model": "gpt-4o-mini", "cut_after_chunks": 3, "count": 1},
    )
    stream = client(gateway).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    with pytest.raises(openai.APIError):
        list(stream)
    row = gateway.metadata(expect=1)[0]
    assert row["error_code"] == "provider_error"
    assert row["input_tokens"] is None and row["cost_picousd"] is None  # unknown, not 0


def test_unknown_model_suggests_the_closest_catalog_ids(gateway: RunningGateway) -> None:
    with pytest.raises(openai.BadRequestError) as typo:
        client(gateway).chat.completions.create(
            model="gpt-4o-mini-canary", messages=[{"role": "user", "content": "x"}]
        )
    assert typo.value.code == "invalid_model"
    message = typo.value.message
    assert "Did you mean gpt-4o-mini" in message and "GET /v1/models" in message
    assert "canary" not in typo.value.response.text  # names catalog ids, never what was sent
    assert_valid(typo.value.response.json(), "ErrorResponse")
    far = raw_post(gateway, {"model": "zzzz-qqqq", "messages": [{"role": "user", "content": "x"}]})
    assert far.json()["error"]["code"] == "invalid_model"
    assert "Did you mean" not in far.json()["error"]["message"]
    assert [r["requested_model"] for r in gateway.metadata(expect=2)] == [None, None]


def test_premium_model_in_test_mode_is_refused_not_served(gateway: RunningGateway) -> None:
    httpx.delete(f"{gateway.simulator_url}/_simulator/requests")
    test_mode = client(gateway).with_options(default_headers={"X-RoutePlex-Test-Mode": "true"})
    with pytest.raises(openai.PermissionDeniedError) as refused:
        test_mode.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": PROMPT}]
        )
    assert refused.value.status_code == 403 and refused.value.code == "forbidden_model"
    assert_valid(refused.value.response.json(), "ErrorResponse")
    message = refused.value.message
    assert "default-tier" in message and "gpt-4o-mini" in message and "gpt-4.1-nano" in message
    assert "claude-3-5-haiku-20241022" in message and "claude-sonnet-4" not in message
    assert httpx.get(f"{gateway.simulator_url}/_simulator/requests").json()["requests"] == []
    (row,) = gateway.metadata(expect=1)
    assert (row["http_status"], row["error_code"]) == (403, "forbidden_model")
    assert row["requested_model"] == "gpt-4o" and row["served_model"] is None
    assert row["provider"] is None and row["attempts"] == 0
    # A default-tier model in test mode is served as usual.
    served = test_mode.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert served.model_dump()["x_routeplex"]["model_used"] == "gpt-4o-mini"
    assert len(gateway.metadata(expect=2)) == 2


def test_endpoints_not_served_name_the_one_that_is(gateway: RunningGateway) -> None:
    sdk = client(gateway)
    with pytest.raises(openai.NotFoundError) as legacy:
        sdk.completions.create(model="gpt-4o-mini", prompt="hello canary-prompt")
    assert "legacy Completions API" in legacy.value.message
    with pytest.raises(openai.NotFoundError) as moderations:
        sdk.moderations.create(input="hello canary-input")
    assert "Moderations API" in moderations.value.message
    responses = [legacy.value.response, moderations.value.response]
    auth = {"Authorization": f"Bearer {gateway.keys['alice']}"}
    for method, path in [
        ("POST", "/v1/uploads"),
        ("POST", "/v1/images/generations"),
        ("POST", "/v1/audio/speech"),
        ("GET", "/v1/models/gpt-4o-mini/canary-path"),
        ("POST", "/v1/no-such-thing-canary"),
    ]:
        responses.append(httpx.request(method, f"{gateway.url}{path}", headers=auth, json={}))
    for response in responses:
        assert response.status_code == 404
        assert_valid(response.json(), "ErrorResponse")
        error = response.json()["error"]
        assert error["code"] == "not_found" and error["type"] == "not_found_error"
        assert "POST /v1/chat/completions" in error["message"]
        assert "POST /v1/embeddings" in error["message"]
        assert "canary" not in response.text
    assert gateway.metadata(expect=0, timeout=0.2) == []
