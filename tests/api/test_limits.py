"""Limits through the gateway: refusals in both envelopes with Retry-After and
X-RateLimit headers, reservations settled with real usage, the `evaluation` plan's caps."""

from __future__ import annotations

import threading
import time

import httpx

from tests.conftest import RunningGateway

MESSAGE = [{"role": "user", "content": "hi"}]


def chat(
    gw: RunningGateway, key: str, path: str = "/v1/chat/completions", **extra: object
) -> httpx.Response:
    body: dict[str, object] = {"model": "gpt-4o-mini", "messages": MESSAGE, "max_tokens": 50}
    if path.startswith("/api"):
        body = {"model": "gpt-4o-mini", "messages": MESSAGE, "max_output_tokens": 50}
    body.update(extra)
    return httpx.post(
        f"{gw.url}{path}", json=body, timeout=15, headers={"Authorization": f"Bearer {key}"}
    )


def test_evaluation_plan_rpm_refusal_in_both_envelopes(gateway: RunningGateway) -> None:
    key = gateway.add_account("trial", plan="evaluation")
    statuses = [chat(gateway, key).status_code for _ in range(5)]
    assert statuses == [200] * 5
    refused = chat(gateway, key)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "rate_limited" and error["type"] == "rate_limit_error"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Limit"] == "5"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    native = chat(gateway, key, "/api/v1/chat")
    assert native.status_code == 429
    payload = native.json()
    assert payload["success"] is False and payload["error"]["code"] == "rate_limited"
    assert payload["error"]["details"]["limit"] == "rpm"
    assert "Retry-After" in native.headers
    # Refusals are recorded too: the abuse picture needs them.
    rows = gateway.metadata(expect=7)
    assert [r["http_status"] for r in rows].count(429) == 2


def test_concurrency_limit_holds_while_a_stream_runs(gateway: RunningGateway) -> None:
    key = gateway.add_account("solo", plan="evaluation")
    httpx.post(
        f"{gateway.simulator_url}/_simulator/faults",
        json={"model": "gpt-4o-mini", "latency_ms": 1500, "count": 1},
    )
    results: list[int] = []
    slow = threading.Thread(target=lambda: results.append(chat(gateway, key).status_code))
    slow.start()
    time.sleep(0.5)
    second = chat(gateway, key)
    slow.join()
    assert results == [200]
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "rate_limited"
    assert "concurrency" in second.json()["error"]["message"].lower()
    assert chat(gateway, key).status_code == 200  # the slot was freed when the first ended


def test_daily_token_cap_reserves_worst_case_and_settles(gateway: RunningGateway) -> None:
    key = gateway.add_account("tiny", plan="evaluation")
    # 20,000 tokens a day: a request that could use 19,000 output tokens fits once…
    first = chat(gateway, key, max_tokens=16000)
    assert first.status_code == 200
    used = first.json()["usage"]["total_tokens"]
    # …and because it was settled at its real (small) usage, the next fits too.
    assert chat(gateway, key, max_tokens=16000).status_code == 200
    # Today's request count comes from the metadata, which is written in batches.
    gateway.metadata(expect=2)
    account = httpx.get(
        f"{gateway.url}/api/v1/account", headers={"Authorization": f"Bearer {key}"}
    ).json()["data"]
    assert account["plan"] == "evaluation"
    assert account["limits"]["tokens_per_day"] == 20_000
    assert account["today"]["tokens"] < 2 * used + 10
    assert account["today"]["requests"] >= 1


def test_daily_cap_refusal(gateway: RunningGateway) -> None:
    key = gateway.add_account("capped", plan="evaluation")
    refused = chat(
        gateway, key, max_tokens=16384, messages=[{"role": "user", "content": "x " * 20000}]
    )
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "daily_limit_exceeded"
    assert int(refused.headers["Retry-After"]) > 0
    assert int(refused.headers["X-RateLimit-Reset"]) > time.time()


def test_key_caps_refuse_with_quota_exceeded(gateway: RunningGateway) -> None:
    key = gateway.add_account("team", plan="usage", limits={"tokens_per_day": 100})
    refused = chat(gateway, key, max_tokens=200)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "quota_exceeded"


def test_unlimited_plan_is_counted_not_refused(gateway: RunningGateway) -> None:
    key = gateway.add_account("ops", plan="unlimited")
    assert all(chat(gateway, key).status_code == 200 for _ in range(8))
    today = httpx.get(
        f"{gateway.url}/api/v1/account", headers={"Authorization": f"Bearer {key}"}
    ).json()["data"]["today"]
    assert today["tokens"] > 0


def test_forbidden_model_for_a_narrowed_key(gateway: RunningGateway) -> None:
    key = gateway.add_account("narrow", allowed_models=["gpt-4o"])
    refused = chat(gateway, key)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden_model"


def test_uncapped_requests_are_capped_to_what_the_budget_holds(gateway: RunningGateway) -> None:
    from tests.support.accounts import set_account_limits

    key = gateway.add_account("budgeted", plan="evaluation")
    set_account_limits(gateway, "budgeted", {"tokens_per_day": 3000})
    httpx.delete(f"{gateway.simulator_url}/_simulator/requests")
    body = {"model": "gpt-4o-mini", "messages": MESSAGE}  # no max_tokens of the caller's
    reply = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json=body,
        timeout=15,
        headers={"Authorization": f"Bearer {key}"},
    )
    assert reply.status_code == 200
    seen = httpx.get(f"{gateway.simulator_url}/_simulator/requests").json()
    upstream = (seen["requests"] if isinstance(seen, dict) else seen)[-1]["body"]
    # The gateway set the cap its reservation covers, under OpenAI's current field name.
    assert 16 <= upstream["max_completion_tokens"] <= 3000


def test_a_budget_too_small_for_an_answer_is_refused(gateway: RunningGateway) -> None:
    from tests.support.accounts import set_account_limits

    key = gateway.add_account("spent", plan="evaluation")
    set_account_limits(gateway, "spent", {"tokens_per_day": 20})
    reply = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        timeout=15,
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "gpt-4o-mini", "messages": MESSAGE},
    )
    assert reply.status_code == 429
    assert reply.json()["error"]["code"] == "daily_limit_exceeded"


def test_a_huge_tool_is_refused_before_it_reaches_the_provider(gateway: RunningGateway) -> None:
    # 430,000 characters of tool description: 80,039 tokens at OpenAI, four times the
    # evaluation plan's 20,000 a day. Counted at admission, it never goes upstream.
    key = gateway.add_account("tooled", plan="evaluation")
    marker = "routeplex-huge-tool-marker"
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": marker + " word" * 86_000,
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    refused = chat(gateway, key, tools=[tool])
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "daily_limit_exceeded"
    assert marker not in refused.text
    seen = httpx.get(f"{gateway.simulator_url}/_simulator/requests").json()["requests"]
    assert not any(marker in str(entry.get("body")) for entry in seen)
    rows = gateway.metadata(expect=1)
    assert [(r["http_status"], r["error_code"]) for r in rows] == [(429, "daily_limit_exceeded")]
    # The same request without the tool is served: the tool alone was what could not fit.
    assert chat(gateway, key).status_code == 200


def test_a_dense_prompt_is_reserved_at_no_less_than_its_bill(gateway: RunningGateway) -> None:
    key = gateway.add_account("dense", plan="evaluation")
    estimate = httpx.post(
        f"{gateway.url}/api/v1/chat/estimate",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "a " * 300}]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=15,
    ).json()["data"]
    assert estimate["input_tokens"] >= 307  # what OpenAI billed for it


def test_a_predicted_output_is_reserved_before_it_reaches_the_provider(
    gateway: RunningGateway,
) -> None:
    # OpenAI bills a prediction's rejected tokens as output, beyond the output cap: ~55,000
    # tokens of prediction could spend far past the `evaluation` plan's 20,000 a day.
    key = gateway.add_account("predicted", plan="evaluation")
    marker = "routeplex-huge-prediction-marker"
    prediction = marker + " ".join(str(n) for n in range(30_000))
    for content in (prediction, [{"type": "text", "text": prediction}]):
        refused = chat(gateway, key, prediction={"type": "content", "content": content})
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "daily_limit_exceeded"
    seen = httpx.get(f"{gateway.simulator_url}/_simulator/requests").json()["requests"]
    assert not any(marker in str(entry.get("body")) for entry in seen)
    # A prediction that fits is served.
    small = chat(gateway, key, prediction={"type": "content", "content": "Hello there."})
    assert small.status_code == 200, small.text
    # Without a cap of the caller's, the one the gateway sets leaves room for the prediction.
    httpx.delete(f"{gateway.simulator_url}/_simulator/requests")
    medium = "word " * 2_000  # 10,000 bytes: the bound when o200k is not on disk
    uncapped = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "messages": MESSAGE,
            "prediction": {"type": "content", "content": medium},
        },
        headers={"Authorization": f"Bearer {key}"},
        timeout=15,
    )
    assert uncapped.status_code == 200, uncapped.text
    upstream = httpx.get(f"{gateway.simulator_url}/_simulator/requests").json()["requests"]
    cap = upstream[-1]["body"]["max_completion_tokens"]
    assert cap + 2_000 <= 20_000  # at least the prediction's tokens are kept out of the cap
