"""The fault registry: validation, matching, lifetimes and composition (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from routeplex_gateway.simulator.faults import (
    BreakFault,
    FaultRegistry,
    FaultSpecError,
    HangFault,
    StatusFault,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], None),
        ({"status": 500}, "model"),
        ({"model": ""}, "model"),
        ({"model": "m"}, None),
        ({"model": "m", "status": 200}, "status"),
        ({"model": "m", "status": "500"}, "status"),
        ({"model": "m", "status": 500, "hang": True}, "hang"),
        ({"model": "m", "hang": "yes"}, "hang"),
        ({"model": "m", "cut_after_chunks": -1}, "cut_after_chunks"),
        ({"model": "m", "stall_after_chunks": 1.5}, "stall_after_chunks"),
        ({"model": "m", "status": 500, "count": 0}, "count"),
        ({"model": "m", "status": 500, "count": True}, "count"),
        ({"model": "m", "status": 500, "duration_s": 0}, "duration_s"),
        ({"model": "m", "latency_ms": -5}, "latency_ms"),
        ({"model": "m", "retry_after": 2, "latency_ms": 5}, "retry_after"),
        ({"model": "m", "status": 429, "retry_after": "2"}, "retry_after"),
        ({"model": "m", "status": 500, "colour": "red"}, "colour"),
    ],
)
def test_invalid_fault_bodies_are_refused(body: Any, param: str | None) -> None:
    with pytest.raises(FaultSpecError) as refused:
        FaultRegistry().add(body)
    assert refused.value.param == param
    assert refused.value.message


def test_actions_are_parsed() -> None:
    registry = FaultRegistry()
    assert registry.add({"model": "m", "status": 429, "retry_after": 2}).action == StatusFault(
        429, None, 2.0
    )
    assert registry.add({"model": "m", "hang": True}).action == HangFault()
    assert registry.add({"model": "m", "malformed_after_chunks": 0}).action == BreakFault(
        "malformed", 0
    )
    latency_only = registry.add({"model": "m", "latency_ms": 250, "hang": False})
    assert (latency_only.action, latency_only.latency_s) == (None, 0.25)


def test_count_is_consumed_per_matching_request() -> None:
    registry = FaultRegistry()
    registry.add({"model": "gpt-4o", "status": 500, "count": 2})
    assert registry.take("gpt-4o-mini").action is None
    assert registry.take("gpt-4o").action == StatusFault(500)
    assert registry.active()[0].remaining == 1
    assert registry.take("gpt-4o").action == StatusFault(500)
    assert registry.take("gpt-4o").action is None
    assert registry.active() == []


def test_oldest_action_wins_and_latency_composes() -> None:
    registry = FaultRegistry()
    registry.add({"model": "*", "latency_ms": 100})
    registry.add({"model": "m", "status": 500, "count": 1, "latency_ms": 50})
    registry.add({"model": "m", "status": 503, "count": 1})
    first = registry.take("m")
    assert first.action == StatusFault(500) and first.latency_s == pytest.approx(0.15)
    second = registry.take("m")
    assert second.action == StatusFault(503) and second.latency_s == pytest.approx(0.1)
    third = registry.take("other")
    assert third.action is None and third.latency_s == pytest.approx(0.1)


def test_duration_expires() -> None:
    clock = FakeClock()
    registry = FaultRegistry(clock)
    registry.add({"model": "m", "status": 500, "duration_s": 60})
    assert registry.take("m").action == StatusFault(500)
    assert registry.active()[0].view(clock())["expires_in_s"] == 60
    clock.now += 60
    assert registry.take("m").action is None
    assert registry.active() == []


def test_clear_removes_all_and_releases_waiters() -> None:
    registry = FaultRegistry()
    registry.add({"model": "m", "hang": True})
    release = registry.take("m").release
    assert not release.is_set()
    assert registry.clear() == 1
    assert release.is_set()
    assert registry.active() == []
    assert not registry.take("m").release.is_set()
