"""A client that aborts a stream is charged what it consumed — its prompt and the output
relayed so far, estimated and marked so — not the whole reservation."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import RunningGateway
from tests.faults.conftest import rows_by_id, today

PLAN_TOKENS = 20_000  # `evaluation`


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/v1/chat"])
def test_an_aborted_stream_is_charged_what_it_consumed(gateway: RunningGateway, path: str) -> None:
    key = gateway.add_account("trial", plan="evaluation")
    # The upstream sends a few chunks, then nothing: the client gives up after three.
    httpx.post(
        f"{gateway.simulator_url}/_simulator/faults",
        json={"model": "gpt-4o-mini", "stall_after_chunks": 6, "count": 1},
    )
    body = {
        "model": "gpt-4o-mini",
        "stream": True,
        "messages": [{"role": "user", "content": "Tell me about the sea."}],
    }
    if path.startswith("/api"):
        body["stream_mode"] = "realtime"
        body["max_output_tokens"] = 16_000  # the native default is small; no cap, in effect
    with httpx.stream(
        "POST",
        f"{gateway.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=20,
    ) as response:
        request_id = response.headers["x-request-id"]
        events = response.iter_lines()
        relayed = [line for line, _ in zip((e for e in events if e), range(3), strict=False)]
        assert all(line.startswith("data: ") for line in relayed)
    row = rows_by_id(gateway, [request_id])[request_id]
    assert row["http_status"] == 499
    assert row["usage_estimated"] == 1
    assert row["input_tokens"] and row["input_tokens"] < 50
    assert row["output_tokens"] is not None and 0 < row["output_tokens"] < 200
    assert row["cost_picousd"] is not None
    used = today(gateway, key)
    # Charged prompt + relayed output; the ~16k reserved for the answer went back.
    assert used["tokens"] == row["input_tokens"] + row["output_tokens"]
    assert used["tokens"] < 500 and used["in_flight"] == 0


def test_answers_with_reported_usage_are_not_marked_estimated(gateway: RunningGateway) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {gateway.keys['alice']}"},
        timeout=20,
    )
    request_id = response.headers["x-request-id"]
    assert rows_by_id(gateway, [request_id])[request_id]["usage_estimated"] == 0
