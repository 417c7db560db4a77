"""The health board: rolling windows, circuit breaker open → half-open probe → closed."""

from __future__ import annotations

from routeplex_gateway.routing.health import (
    COOL_DOWN_S,
    FAILURES_TO_OPEN,
    PROBE_EXPIRY_S,
    HealthBoard,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_circuit_opens_after_repeated_failures_and_probes_back() -> None:
    clock = Clock()
    board = HealthBoard(clock)
    for _ in range(FAILURES_TO_OPEN - 1):
        board.record("d", ok=False, latency_ms=5)
    assert board.available("d") and board.state("d") == "degraded"
    board.record("d", ok=False, latency_ms=5)
    assert not board.available("d") and board.state("d") == "down"
    clock.now += COOL_DOWN_S
    assert board.begin("d")  # one probe…
    assert not board.begin("d")  # …not two
    board.record("d", ok=False, latency_ms=5)  # the probe failed: a new cool-down
    assert not board.available("d") and not board.begin("d")
    clock.now += COOL_DOWN_S
    assert board.begin("d")
    board.record("d", ok=True, latency_ms=80)
    assert board.available("d") and board.report("d")["circuit"] == "closed"


def test_rolling_latency_and_error_rate() -> None:
    clock = Clock()
    board = HealthBoard(clock)
    for ms in (100, 300, 200):
        board.record("d", ok=True, latency_ms=ms)
    board.record("d", ok=False, latency_ms=1)
    assert board.p50_ms("d") == 200
    assert board.error_rate("d") == 0.25
    clock.now += 301  # the window is five minutes
    assert board.error_rate("d") is None and board.state("d") == "healthy"


def test_least_bad_prefers_closed_circuits() -> None:
    board = HealthBoard(Clock())
    for _ in range(FAILURES_TO_OPEN):
        board.record("a", ok=False, latency_ms=1)
    board.record("b", ok=False, latency_ms=1)
    assert board.badness("b") < board.badness("a")


def test_asking_whether_a_deployment_is_available_takes_nothing() -> None:
    clock = Clock()
    board = HealthBoard(clock)
    for _ in range(FAILURES_TO_OPEN):
        board.record("d", ok=False, latency_ms=5)
    clock.now += COOL_DOWN_S
    # The scorer, the router and the health pages all ask; none of them uses the probe up.
    assert all(board.available("d") for _ in range(5))
    assert board.begin("d")  # the attempt takes the one probe…
    assert not board.begin("d")  # …so a concurrent request does not get a second one
    assert not board.available("d")
    board.record("d", ok=True, latency_ms=80)
    assert board.report("d")["circuit"] == "closed" and board.begin("d") and board.begin("d")


def test_a_probe_that_never_reports_expires() -> None:
    clock = Clock()
    board = HealthBoard(clock)
    for _ in range(FAILURES_TO_OPEN):
        board.record("d", ok=False, latency_ms=5)
    clock.now += COOL_DOWN_S
    assert board.begin("d")  # …and its request is cancelled before it reports
    clock.now += PROBE_EXPIRY_S - 1
    assert not board.begin("d")
    clock.now += 1
    assert board.available("d") and board.begin("d")
    board.release("d")  # a cancelled attempt gives the probe back at once
    assert board.begin("d")
