"""Anthropic's Messages surface closes every stream exactly once, whatever cancels it: here an
anthropic SDK client that stops reading at `message_stop` and closes its connection at once,
while the gateway still waits on a slow Redis to settle — hundreds of times in a row, on a
Claude model (the upstream's events relayed as they came) and a GPT model (translated).

Every stream's `request-id` must have exactly one metadata row, 200, with its usage, and no
concurrency slot may be left held: the `usage` plan's 5 slots would refuse the sixth stream
after five leaks, and `in_flight` must read 0 at the end.
"""

from __future__ import annotations

from pathlib import Path

import anthropic
import pytest

from tests.faults.conftest import gateway_on_redis, rows_by_id, today
from tests.support.accounts import set_account_limits
from tests.support.services import require_redis

STREAMS = 100  # per model: 200 in all
MODELS = ("claude-haiku-4-5", "gpt-4o-mini")


def _stream_and_leave(url: str, key: str, model: str) -> tuple[str, int]:
    """One streamed answer read up to its `message_stop`, then the client closed at once.
    Returns the request id and the output tokens the last `message_delta` reported."""
    with (
        anthropic.Anthropic(base_url=url, api_key=key, max_retries=0) as client,
        client.messages.stream(
            model=model, max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        request_id = stream.response.headers["request-id"]
        names = []
        for event in stream:
            names.append(event.type)
            if event.type == "message_stop":
                break  # the connection goes with the client, before the body's end
        assert names[0] == "message_start" and names[-1] == "message_stop", names
        return request_id, stream.current_message_snapshot.usage.output_tokens


@pytest.mark.parametrize("model", MODELS)
def test_messages_streams_left_at_message_stop_are_each_recorded_once(
    tmp_path: Path, simulator_url: str, model: str
) -> None:
    require_redis()
    with gateway_on_redis(tmp_path, simulator_url, 6379) as (gw, proxy):
        key = gw.keys["alice"]
        # Past the plan's 30 a minute; its 5 concurrent slots stay, so a leak still shows.
        set_account_limits(gw, "alice", {"rpm": 10_000})
        # Every Redis answer arrives late, so the settlement after the last event is still
        # waiting when the client has read message_stop and gone.
        proxy.reply_delay_s = 0.02
        reported: dict[str, int] = {}
        for _ in range(STREAMS):
            request_id, output = _stream_and_leave(gw.url, key, model)
            reported[request_id] = output
        proxy.reply_delay_s = 0.0
        assert len(reported) == STREAMS  # one id per stream, none reused
        rows = rows_by_id(gw, list(reported))
        assert len(rows) == STREAMS, f"{STREAMS - len(rows)} of {STREAMS} streams have no row"
        assert {row["http_status"] for row in rows.values()} == {200}
        assert {row["error_code"] for row in rows.values()} == {None}
        assert {row["endpoint"] for row in rows.values()} == {"anthropic.messages"}
        assert {row["served_model"] for row in rows.values()} == {model}
        # The row holds what the caller was told, not an estimate.
        assert all(rows[rid]["output_tokens"] == out for rid, out in reported.items())
        assert not any(row["usage_estimated"] for row in rows.values())
        state = today(gw, key)
        assert state["in_flight"] == 0
        assert state["tokens"] == sum(r["input_tokens"] + r["output_tokens"] for r in rows.values())
