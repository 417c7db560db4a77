"""The native dialect end to end (`/api/v1/...`), over real sockets against the simulator."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import RunningGateway

PROMPT = "Write two sentences about rivers. kiwi-canary-5521"


def post(gw: RunningGateway, path: str, body: object, *, auth: bool = True) -> httpx.Response:
    headers = {"Authorization": f"Bearer {gw.keys['alice']}"} if auth else {}
    return httpx.post(f"{gw.url}{path}", json=body, headers=headers, timeout=10)


def sse_events(gw: RunningGateway, body: dict[str, object]) -> list[dict[str, object] | str]:
    with httpx.stream(
        "POST",
        f"{gw.url}/api/v1/chat",
        json=body,
        timeout=10,
        headers={"Authorization": f"Bearer {gw.keys['alice']}"},
    ) as response:
        assert response.status_code == 200
        raw = response.read().decode()
    events: list[dict[str, object] | str] = []
    for block in raw.split("\n\n"):
        if block.startswith("data: "):
            data = block[len("data: ") :]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def test_manual_chat(gateway: RunningGateway) -> None:
    response = post(
        gateway,
        "/api/v1/chat",
        {
            "messages": [{"role": "user", "content": PROMPT}],
            "mode": "manual",
            "model": "gpt-4o-mini",
        },
    )
    assert response.status_code == 200
    payload = response.json()
    assert payload["success"] is True
    data = payload["data"]
    assert set(data) == {
        "id",
        "output",
        "model_used",
        "provider",
        "routing_mode",
        "fallback_used",
        "latency_ms",
        "usage",
        "enhancement",
    }
    assert data["output"] and data["model_used"] == "gpt-4o-mini"
    assert data["routing_mode"] == "manual" and data["provider"] == "openai"
    usage = data["usage"]
    assert set(usage) == {
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "cost_usd",
        "internal_reasoning_tokens",
    }
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["cost_usd"] > 0
    assert data["enhancement"] is None

    row = gateway.metadata(expect=1)[0]
    assert row["endpoint"] == "native.chat" and row["request_id"] == data["id"]
    stored = gateway.stored_bytes()
    assert b"kiwi-canary-5521" not in stored and data["output"].encode()[:30] not in stored


def test_default_max_output_tokens_is_512(gateway: RunningGateway) -> None:
    httpx.delete(f"{gateway.simulator_url}/_simulator/requests")
    post(
        gateway,
        "/api/v1/chat",
        {"messages": [{"role": "user", "content": "hi"}], "model": "gpt-4o-mini"},
    )
    seen = httpx.get(f"{gateway.simulator_url}/_simulator/requests").json()
    upstream = seen["requests"][-1]["body"] if isinstance(seen, dict) else seen[-1]["body"]
    assert upstream["max_tokens"] == 512


def test_auto_mode_picks_a_default_tier_model_in_test_mode(gateway: RunningGateway) -> None:
    response = post(
        gateway,
        "/api/v1/chat",
        {
            "messages": [{"role": "user", "content": "hi"}],
            "mode": "routeplex-ai",
            "test_mode": True,
        },
    )
    data = response.json()["data"]
    assert data["routing_mode"] == "routeplex-ai"
    models = {m["id"]: m for m in httpx.get(f"{gateway.url}/api/v1/models").json()["data"]}
    assert models[data["model_used"]]["tier"] == "default"


def test_enhance_prompt_reports_enhancement(gateway: RunningGateway) -> None:
    response = post(
        gateway,
        "/api/v1/chat",
        {
            "messages": [{"role": "user", "content": "hi"}],
            "model": "gpt-4o-mini",
            "enhance_prompt": True,
        },
    )
    assert response.json()["data"]["enhancement"] == {"applied": True, "method": "system_guidance"}


@pytest.mark.parametrize("stream_mode", ["realtime", "buffered"])
def test_streaming_events(gateway: RunningGateway, stream_mode: str) -> None:
    events = sse_events(
        gateway,
        {
            "messages": [{"role": "user", "content": PROMPT}],
            "model": "gpt-4o-mini",
            "stream": True,
            "stream_mode": stream_mode,
        },
    )
    assert events[-1] == "[DONE]"
    typed = [e for e in events if isinstance(e, dict)]
    assert typed[0]["type"] == "start" and str(typed[0]["request_id"]).startswith("req_")
    deltas = [e for e in typed if e["type"] == "delta"]
    assert deltas and all(isinstance(d["content"], str) and d["content"] for d in deltas)
    done = typed[-1]
    assert done["type"] == "done"
    assert done["model_used"] == "gpt-4o-mini" and done["provider"] == "openai"
    assert done["finish_reason"] == "stop"
    usage = done["usage"]
    assert isinstance(usage, dict) and usage["output_tokens"] > 0
    if stream_mode == "buffered":
        # Sentence-aware pacing: every delta but the last ends a sentence.
        assert all(str(d["content"]).rstrip().endswith((".", "!", "?")) for d in deltas[:-1])
    row = gateway.metadata(expect=1)[0]
    assert row["output_tokens"] == usage["output_tokens"]


def test_stream_error_event_after_first_byte(gateway: RunningGateway) -> None:
    httpx.post(
        f"{gateway.simulator_url}/_simulator/faults",
        json={"model": "gpt-4o-mini", "malformed_after_chunks": 2, "count": 1},
    )
    events = sse_events(
        gateway,
        {
            "messages": [{"role": "user", "content": PROMPT}],
            "model": "gpt-4o-mini",
            "stream": True,
            "stream_mode": "realtime",
        },
    )
    typed = [e for e in events if isinstance(e, dict)]
    assert typed[0]["type"] == "start"
    assert typed[-1]["type"] == "error" and typed[-1]["code"] == "provider_error"
    assert events[-1] == "[DONE]"


def test_failure_before_first_byte_is_a_json_error(gateway: RunningGateway) -> None:
    # gpt-4.1-nano has no configured fallbacks, so its one failure is the answer.
    httpx.post(
        f"{gateway.simulator_url}/_simulator/faults",
        json={"model": "gpt-4.1-nano", "status": 500, "count": 1},
    )
    response = post(
        gateway,
        "/api/v1/chat",
        {"messages": [{"role": "user", "content": "x"}], "model": "gpt-4.1-nano", "stream": True},
    )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "provider_error"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"messages": []}, 400, "empty_messages"),
        ({"messages": [{"role": "user", "content": "x"}], "mode": "turbo"}, 400, "invalid_mode"),
        (
            {"messages": [{"role": "user", "content": "x"}], "mode": "manual"},
            400,
            "validation_error",
        ),
        ({"messages": [{"role": "user", "content": "x"}], "model": "nope"}, 400, "invalid_model"),
        (
            {
                "messages": [{"role": "user", "content": "x"}],
                "model": "gpt-4o-mini",
                "max_output_tokens": -5,
            },
            400,
            "validation_error",
        ),
        (
            {
                "messages": [{"role": "user", "content": "x"}],
                "model": "gpt-4o-mini",
                "stream_mode": "warp",
            },
            400,
            "validation_error",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}], "strategy": "cheapest"},
            400,
            "validation_error",
        ),
        ("just a string", 400, "validation_error"),
    ],
)
def test_native_error_envelope(
    gateway: RunningGateway, body: object, status: int, code: str
) -> None:
    response = post(gateway, "/api/v1/chat", body)
    assert response.status_code == status
    payload = response.json()
    assert payload["success"] is False
    assert payload["error"]["code"] == code
    assert isinstance(payload["error"]["message"], str)
    assert isinstance(payload["error"]["details"], dict)


def test_native_auth_errors(gateway: RunningGateway) -> None:
    response = post(
        gateway, "/api/v1/chat", {"messages": [{"role": "user", "content": "x"}]}, auth=False
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_estimate(gateway: RunningGateway) -> None:
    response = post(
        gateway,
        "/api/v1/chat/estimate",
        {
            "messages": [{"role": "user", "content": "a" * 400}],
            "model": "gpt-4o-mini",
            "max_output_tokens": 100,
        },
        auth=False,
    )
    data = response.json()["data"]
    assert data["model"] == "gpt-4o-mini"
    assert data["input_tokens"] >= 100 and data["max_output_tokens"] == 100
    assert data["total_tokens"] == data["input_tokens"] + 100
    assert data["confidence"] in ("low", "medium", "high")
    assert data["pricing"] == {"input_per_1k": 0.00015, "output_per_1k": 0.0006}
    expected = (data["input_tokens"] * 0.15 + 100 * 0.6) / 1_000_000
    assert data["estimated_cost_usd"] == pytest.approx(expected)

    cheapest = post(
        gateway,
        "/api/v1/chat/estimate",
        {"messages": [{"role": "user", "content": "hi"}]},
        auth=False,
    ).json()
    assert cheapest["data"]["model"]
    bad = post(gateway, "/api/v1/chat/estimate", {"messages": []}, auth=False)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "empty_messages"
    assert gateway.metadata(expect=0, timeout=0.2) == []


def test_models_catalog(gateway: RunningGateway) -> None:
    data = httpx.get(f"{gateway.url}/api/v1/models").json()["data"]
    by_id = {m["id"]: m for m in data}
    mini = by_id["gpt-4o-mini"]
    assert set(mini) == {
        "id",
        "display_name",
        "provider",
        "tier",
        "context_window",
        "max_output_tokens",
        "health",
        "pricing",
        "capabilities",
        "aliases",
        "deprecated",
        "deprecation_date",
        "data_policies",
    }
    assert mini["health"] == "healthy" and mini["provider"] == "openai"
    # Its deployment's downstream policy: OpenAI's published default (regions unpublished).
    assert mini["data_policies"] == [
        {"provider": "openai", "retention_days": 30, "trains_on_data": False, "regions": None}
    ]
    assert set(mini["capabilities"]) == {"streaming", "functions", "vision"}
    assert mini["pricing"]["input_per_1k"] == 0.00015


def test_unknown_path_and_method(gateway: RunningGateway) -> None:
    missing = httpx.get(f"{gateway.url}/api/v1/nothing-canary")
    assert missing.status_code == 404 and missing.json()["success"] is False
    error = missing.json()["error"]
    assert error["code"] == "not_found" and "POST /api/v1/chat" in error["message"]
    assert "canary" not in missing.text
    wrong = httpx.get(f"{gateway.url}/v1/chat/completions")
    assert wrong.status_code == 405 and "error" in wrong.json()


def test_unknown_model_suggests_the_closest_catalog_ids(gateway: RunningGateway) -> None:
    chat = post(
        gateway,
        "/api/v1/chat",
        {"messages": [{"role": "user", "content": "x"}], "model": "claude-sonet-4"},
    )
    estimate = post(
        gateway,
        "/api/v1/chat/estimate",
        {"messages": [{"role": "user", "content": "x"}], "model": "gemini-2.5-flsh"},
        auth=False,
    )
    for response, meant in ((chat, "claude-sonnet-4"), (estimate, "gemini-2.5-flash")):
        assert response.status_code == 400 and response.json()["success"] is False
        error = response.json()["error"]
        assert error["code"] == "invalid_model" and error["details"]["suggestions"][0] == meant
        assert f"Did you mean {meant}" in error["message"]
        assert "GET /api/v1/models" in error["message"]
    assert "claude-sonet-4" not in chat.text and "gemini-2.5-flsh" not in estimate.text


def test_premium_model_in_test_mode_is_refused_not_served(gateway: RunningGateway) -> None:
    httpx.delete(f"{gateway.simulator_url}/_simulator/requests")
    body = {"messages": [{"role": "user", "content": PROMPT}], "test_mode": True}
    response = post(gateway, "/api/v1/chat", {**body, "model": "claude-sonnet-4"})
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "forbidden_model"
    usable = error["details"]["default_tier_models"]
    assert {"gpt-4o-mini", "claude-3-5-haiku-20241022", "gemini-2.5-flash"} <= set(usable)
    assert "gpt-4o" not in usable and "claude-sonnet-4-20250514" not in usable
    assert all(name in error["message"] for name in usable)
    assert httpx.get(f"{gateway.simulator_url}/_simulator/requests").json()["requests"] == []
    (row,) = gateway.metadata(expect=1)
    assert (row["http_status"], row["error_code"]) == (403, "forbidden_model")
    assert row["requested_model"] == "claude-sonnet-4-20250514" and row["served_model"] is None
    served = post(gateway, "/api/v1/chat", {**body, "model": "claude-3-5-haiku"})
    assert served.status_code == 200
    assert served.json()["data"]["model_used"] == "claude-3-5-haiku-20241022"


def _estimate(gw: RunningGateway, **fields: object) -> dict[str, Any]:
    response = post(
        gw,
        "/api/v1/chat/estimate",
        {"messages": [{"role": "user", "content": "a" * 400}], **fields},
        auth=False,
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_estimate_takes_the_output_cap_under_any_of_its_names(gateway: RunningGateway) -> None:
    named = {"model": "gpt-4o-mini"}
    default = _estimate(gateway, **named)
    assert default["max_output_tokens"] == 512 and default["routing_mode"] == "manual"
    for name in ("max_output_tokens", "max_completion_tokens", "max_tokens"):
        data = _estimate(gateway, **named, **{name: 77})
        assert data["max_output_tokens"] == 77
        assert data["total_tokens"] == data["input_tokens"] + 77
        expected = (data["input_tokens"] * 0.15 + 77 * 0.6) / 1_000_000
        assert data["estimated_cost_usd"] == pytest.approx(expected)
        bad = post(
            gateway,
            "/api/v1/chat/estimate",
            {"messages": [{"role": "user", "content": "x"}], name: 0},
            auth=False,
        )
        assert bad.status_code == 400 and bad.json()["error"]["details"]["param"] == name


@pytest.mark.parametrize("strategy", ["cost", "quality"])
def test_estimate_for_routeplex_ai_names_the_model_routing_would_choose(
    gateway: RunningGateway, strategy: str
) -> None:
    prompt = [{"role": "user", "content": "Prove that there are infinitely many primes."}]
    by_model = _estimate(
        gateway, messages=prompt, model="routeplex-ai", strategy=strategy, max_tokens=300
    )
    by_mode = _estimate(
        gateway, messages=prompt, mode="routeplex-ai", strategy=strategy, max_tokens=300
    )
    assert by_model == by_mode
    assert by_model["routing_mode"] == "routeplex-ai" and by_model["strategy"] == strategy
    served = post(
        gateway,
        "/api/v1/chat",
        {
            "messages": prompt,
            "mode": "routeplex-ai",
            "strategy": strategy,
            "max_output_tokens": 300,
        },
    ).json()["data"]
    assert by_model["model"] == served["model_used"]
    assert by_model["max_output_tokens"] == 300


def test_estimate_for_routeplex_ai_follows_the_strategy(gateway: RunningGateway) -> None:
    cheap = _estimate(gateway, model="routeplex-ai", strategy="cost")["model"]
    best = _estimate(gateway, model="routeplex-ai", strategy="quality")["model"]
    assert cheap != best
    test_mode = _estimate(gateway, model="routeplex-ai", strategy="quality", test_mode=True)
    tiers = {m["id"]: m["tier"] for m in httpx.get(f"{gateway.url}/api/v1/models").json()["data"]}
    assert tiers[best] == "premium" and tiers[test_mode["model"]] == "default"


def test_estimate_refuses_what_chat_refuses(gateway: RunningGateway) -> None:
    # Tools and schemas are counted in the estimate, so a malformed one was priced (about 420
    # tokens for `tools: "x"`) where chat answered 400.
    messages = [{"role": "user", "content": "hi"}]
    for field, value, param in (
        ("tools", "x", "tools"),
        ("tools", [1, 2], "tools[0]"),
        ("response_format", "x", "response_format"),
        ("response_format", {"type": "json_schema"}, "response_format.json_schema"),
        ("temperature", "hot", "temperature"),
        ("top_p", "x", "top_p"),
        ("presence_penalty", "x", "presence_penalty"),
        ("frequency_penalty", 3, "frequency_penalty"),
        ("n", "x", "n"),
    ):
        body = {"model": "gpt-4o-mini", "messages": messages, field: value}
        for path in ("/api/v1/chat/estimate", "/v1/chat/completions"):
            response = post(gateway, path, body)
            assert response.status_code == 400, (path, field, response.text)
            error = response.json()["error"]
            named = error.get("param") or error.get("details", {}).get("param")
            assert error["code"] == "validation_error" and named == param, (path, field)
