"""Redis loses its counters — flushed, or restarted without persistence — and the daily
caps still hold: the day's counters are seeded again from the recorded metadata the moment
admission finds them missing, never taken to be zero."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import RunningGateway
from tests.faults.conftest import gateway_on_redis, rows_by_id, today
from tests.support.accounts import set_account_limits
from tests.support.services import PrivateRedis, private_redis

CAP = 2000
MESSAGES = [{"role": "user", "content": "hi"}]


def _chat(gw: RunningGateway, key: str, max_tokens: int) -> httpx.Response:
    return httpx.post(
        f"{gw.url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "max_tokens": max_tokens, "messages": MESSAGES},
        headers={"Authorization": f"Bearer {key}"},
        timeout=20,
    )


def _served_until_near_the_cap(gw: RunningGateway, key: str) -> int:
    """Spend most of the cap; return the tokens used, once every row is written."""
    ids = []
    while today(gw, key)["tokens"] < CAP - 400:
        response = _chat(gw, key, 300)
        assert response.status_code == 200, response.text
        ids.append(response.headers["x-request-id"])
    assert len(rows_by_id(gw, ids)) == len(ids)
    used: int = today(gw, key)["tokens"]
    return used


def _assert_cap_holds(gw: RunningGateway, key: str, used: int) -> None:
    assert today(gw, key)["tokens"] == used  # seeded again from the metadata, not zero
    # The prompt is a handful of tokens, so this cannot fit in what is left…
    refused = _chat(gw, key, CAP - used)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "daily_limit_exceeded"
    # …while a small one still does.
    assert _chat(gw, key, 20).status_code == 200


def _until_served(gw: RunningGateway, key: str) -> None:
    deadline = time.monotonic() + 10
    while _chat(gw, key, 20).status_code == 503:
        assert time.monotonic() < deadline, "not served after Redis came back"
        time.sleep(0.1)


def _capped(gw: RunningGateway) -> str:
    key = gw.add_account("capped", plan="usage")
    set_account_limits(gw, "capped", {"tokens_per_day": CAP})
    return key


def _run(tmp_path: Path, simulator_url: str, redis: PrivateRedis, lose: Any) -> None:
    with gateway_on_redis(tmp_path, simulator_url, redis.port) as (gw, _):
        key = _capped(gw)
        used = _served_until_near_the_cap(gw, key)
        lose()
        _until_served(gw, key)
        used += _last_tokens(gw)
        _assert_cap_holds(gw, key, used)


def _last_tokens(gw: RunningGateway) -> int:
    """What the request that found Redis back used (recorded like any other)."""
    time.sleep(0.3)
    row = gw.rows("SELECT * FROM request_metadata ORDER BY created_at DESC LIMIT 1")[0]
    return int(row["input_tokens"] + row["output_tokens"])


def test_daily_cap_survives_a_redis_flush(tmp_path: Path, simulator_url: str) -> None:
    with private_redis() as redis:
        _run(tmp_path, simulator_url, redis, redis.flushall)


def test_daily_cap_survives_a_redis_restart(tmp_path: Path, simulator_url: str) -> None:
    with private_redis() as redis:

        def restart() -> None:
            redis.stop()
            redis.start()

        _run(tmp_path, simulator_url, redis, restart)


def test_no_request_fails_on_stale_connections_once_redis_is_back(
    tmp_path: Path, simulator_url: str
) -> None:
    with (
        private_redis() as redis,
        gateway_on_redis(tmp_path, simulator_url, redis.port) as (
            gw,
            _,
        ),
    ):
        key = gw.add_account("busy", plan="unlimited")

        def burst() -> list[int]:
            with ThreadPoolExecutor(32) as pool:
                return list(pool.map(lambda _: _chat(gw, key, 20).status_code, range(32)))

        assert burst() == [200] * 32  # the pool now holds many connections
        redis.stop()
        redis.start()
        # Every pooled connection is stale: each is noticed and replaced, not failed on.
        statuses = burst()
        assert statuses == [200] * 32, f"{statuses.count(503)} of 32 got 503"
