"""A request refused for concurrency does not use up the per-minute allowance: on the
`evaluation` plan (5 a minute, 1 at a time) a burst of 32 against a slow answer serves one
and leaves the minute's other four for later — in process and through Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningGateway
from tests.faults.conftest import gateway_on_redis, rows_by_id, today
from tests.support.services import require_redis

BODY = {"model": "gpt-4o-mini", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


@contextmanager
def backend(
    kind: str, tmp_path: Path, simulator_url: str, gateway: RunningGateway | None
) -> Iterator[RunningGateway]:
    if kind == "memory":
        assert gateway is not None
        yield gateway
        return
    require_redis()
    with gateway_on_redis(tmp_path, simulator_url, 6379) as (running, _):
        yield running


@pytest.fixture(params=["memory", "redis"])
def gw(
    request: pytest.FixtureRequest, tmp_path: Path, simulator_url: str
) -> Iterator[RunningGateway]:
    gateway = request.getfixturevalue("gateway") if request.param == "memory" else None
    with backend(request.param, tmp_path, simulator_url, gateway) as running:
        yield running


def test_a_burst_refused_for_concurrency_leaves_the_minute_unspent(gw: RunningGateway) -> None:
    key = gw.add_account("trial", plan="evaluation")
    # The per-minute count is a sliding-window counter: a burst late in one minute weighs a
    # little less once the next begins, and a request it should refuse would go through. Start
    # early in a minute so the whole test (the 3 s slow answer and what follows) stays in it.
    if time.time() % 60 > 40:
        time.sleep(60 - time.time() % 60)
    httpx.post(
        f"{gw.simulator_url}/_simulator/faults",
        json={"model": "gpt-4o-mini", "latency_ms": 3000, "count": 1},
    )

    def one(_: int) -> httpx.Response:
        return httpx.post(
            f"{gw.url}/v1/chat/completions",
            json=BODY,
            headers={"Authorization": f"Bearer {key}"},
            timeout=20,
        )

    with ThreadPoolExecutor(32) as pool:
        burst = list(pool.map(one, range(32)))
    statuses = [r.status_code for r in burst]
    served = statuses.count(200)  # one, unless a straggler arrived after the slow one ended
    assert 1 <= served <= 2 and statuses.count(429) == 32 - served, statuses
    assert all(
        r.json()["error"]["message"].startswith("Concurrency limit reached")
        for r in burst
        if r.status_code == 429
    )
    # The refused 31 spent nothing: the minute's remaining requests are all still there.
    later = [one(0) for _ in range(6 - served)]
    assert [r.status_code for r in later] == [200] * (5 - served) + [429]
    assert later[-1].json()["error"]["message"].startswith("Rate limit reached")
    ids = [r.headers["x-request-id"] for r in burst + later]
    assert len(rows_by_id(gw, ids)) == len(ids)
    assert today(gw, key)["in_flight"] == 0
