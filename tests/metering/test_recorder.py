"""The metadata writer during a database outage: its retries back off (exponentially, with
jitter, capped) whatever the load, and everything queued is written once the database is
back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime

import pytest

from routeplex_gateway.metering.record import Endpoint, RequestMetadata, RoutingMode
from routeplex_gateway.metering.recorder import Recorder
from routeplex_gateway.storage import StorageError
from routeplex_gateway.supervisor import Supervisor


class FlakyStore:
    """Counts write attempts; refuses them while `down`."""

    def __init__(self) -> None:
        self.down = False
        self.attempts: list[float] = []
        self.rows: list[str] = []

    async def insert_metadata(self, batch: list[RequestMetadata]) -> None:
        self.attempts.append(time.monotonic())
        if self.down:
            raise StorageError("database unreachable")
        self.rows.extend(r.request_id for r in batch)

    async def touch_last_used(self, days: Mapping[str, date]) -> None:
        if self.down:
            raise StorageError("database unreachable")


async def drained(recorder: Recorder) -> None:
    while recorder.pending:  # noqa: ASYNC110 - polling the writer, which signals nothing
        await asyncio.sleep(0.05)


def record(i: int) -> RequestMetadata:
    return RequestMetadata(
        request_id=f"req_{i}",
        created_at=datetime.now(UTC),
        account_id="acct",
        key_id="key",
        endpoint=Endpoint.OPENAI_CHAT,
        routing_mode=RoutingMode.MANUAL,
        strategy=None,
        requested_model="gpt-4o-mini",
        served_model="gpt-4o-mini",
        provider="openai",
        attempts=1,
        fallback_used=False,
        input_tokens=1,
        output_tokens=1,
        cache_read_tokens=None,
        cache_write_tokens=None,
        reasoning_tokens=None,
        cost_picousd=1,
        latency_ms=1,
        ttfb_ms=1,
        http_status=200,
        error_code=None,
    )


async def test_steady_load_does_not_shorten_the_backoff(caplog: pytest.LogCaptureFixture) -> None:
    store = FlakyStore()
    store.down = True
    recorder = Recorder(store, flush_s=0.05, batch_size=10, buffer_size=100_000)  # type: ignore[arg-type]
    loops = Supervisor()
    loops.start("metadata-writer", recorder.step)
    caplog.set_level(logging.WARNING, logger="routeplex_gateway.metering.recorder")
    sent = 0
    try:
        # 3 s of steady load, a record every ~2 ms: far more than a batch queued throughout.
        started = time.monotonic()
        while time.monotonic() - started < 3.0:
            recorder.record(record(sent))
            sent += 1
            await asyncio.sleep(0.002)
        attempts = len(store.attempts)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        # Backing off from 50 ms, doubling (jittered to between half and all of it): about
        # six tries in 3 s. Woken by every new record it was hundreds.
        assert 3 <= attempts <= 10, attempts
        assert len(warnings) == attempts
        gaps = [b - a for a, b in zip(store.attempts, store.attempts[1:], strict=False)]
        assert gaps[-1] > gaps[0] * 2  # it backs off, it does not retry at a fixed rate
        assert not any("unreachable" in r.getMessage() for r in warnings)

        store.down = False
        await asyncio.wait_for(drained(recorder), timeout=15)  # the cap (5 s) with room
        assert store.rows == [f"req_{i}" for i in range(sent)]  # every record, once, in order
        assert recorder.pending == 0
    finally:
        await loops.stop()
        await recorder.drain(timeout_s=0)


def test_the_retry_delay_grows_with_jitter_and_is_capped() -> None:
    from routeplex_gateway.backoff import Backoff

    draws = iter([0.0, 1.0] * 20)
    backoff = Backoff(base_s=0.1, cap_s=5.0, rng=lambda: next(draws))
    delays = [backoff.next_delay() for _ in range(12)]
    # Between half and all of base · 2^(n-1), never above the cap.
    assert delays[:4] == pytest.approx([0.05, 0.2, 0.2, 0.8])
    assert max(delays) <= 5.0 and delays[-1] == pytest.approx(5.0)
    assert delays[-2] == pytest.approx(2.5)  # jitter still spreads replicas at the cap
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.05)
