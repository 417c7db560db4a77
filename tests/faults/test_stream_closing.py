"""A stream's closing — its metadata row, its quota settlement, its slot — completes whatever
cancels the request's task: here the client closing the connection right after `[DONE]`
while the gateway still waits on Redis to settle."""

from __future__ import annotations

from pathlib import Path

import httpx
from openai import OpenAI

from tests.faults.conftest import gateway_on_redis, rows_by_id, today
from tests.support.services import require_redis

STREAMS = 8


def test_streams_closed_right_after_done_are_all_recorded(
    tmp_path: Path, simulator_url: str
) -> None:
    require_redis()
    with gateway_on_redis(tmp_path, simulator_url, 6379) as (gw, proxy):
        key = gw.keys["alice"]
        # Every Redis answer arrives late, so the settlement after the last event is still
        # waiting when the client has read [DONE] and gone.
        proxy.reply_delay_s = 0.15
        ids: list[str] = []
        for _ in range(STREAMS // 2):
            # One SDK client per stream, closed at once: the connection goes with it.
            with (
                OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0) as client,
                client.chat.completions.create(
                    model="gpt-4o-mini",
                    max_tokens=20,
                    stream=True,
                    messages=[{"role": "user", "content": "hi"}],
                ) as stream,
            ):
                ids.append(stream.response.headers["x-request-id"])
                assert [c for c in stream][-1].usage is not None
        for _ in range(STREAMS // 2):
            with httpx.stream(
                "POST",
                f"{gw.url}/api/v1/chat",
                headers={"Authorization": f"Bearer {key}"},
                json={
                    "model": "gpt-4o-mini",
                    "stream": True,
                    "messages": [{"role": "user", "content": "hi"}],
                },
                timeout=20,
            ) as response:
                ids.append(response.headers["x-request-id"])
                for line in response.iter_lines():
                    if line == "data: [DONE]":
                        break
        proxy.reply_delay_s = 0.0
        rows = rows_by_id(gw, ids)
        assert len(rows) == STREAMS, f"{STREAMS - len(rows)} of {STREAMS} streams have no row"
        assert {row["http_status"] for row in rows.values()} == {200}
        assert all(row["output_tokens"] for row in rows.values())
        assert today(gw, key)["in_flight"] == 0
