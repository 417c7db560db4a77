"""Live health of each deployment: rolling latency and error windows, and a circuit breaker.

Every attempt reports here. A deployment that keeps failing is taken out (circuit open) and,
after a cool-down, let back in for one probe (half-open): a success closes the circuit, a
failure opens it again. Only outcomes and timings are kept — never anything of a request.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

WINDOW_S = 300.0  # error rate and latency over the last 5 minutes
FAILURES_TO_OPEN = 3
COOL_DOWN_S = 30.0
DEGRADED_ERROR_RATE = 0.2
_MAX_SAMPLES = 512


@dataclass(slots=True)
class DeploymentHealth:
    samples: deque[tuple[float, float, bool]] = field(
        default_factory=lambda: deque(maxlen=_MAX_SAMPLES)
    )  # (time, latency ms, ok)
    consecutive_failures: int = 0
    opened_at: float | None = None
    probing: bool = False

    def _recent(self, now: float) -> list[tuple[float, float, bool]]:
        while self.samples and now - self.samples[0][0] > WINDOW_S:
            self.samples.popleft()
        return list(self.samples)

    def error_rate(self, now: float) -> float | None:
        recent = self._recent(now)
        if not recent:
            return None
        return sum(1 for _, _, ok in recent if not ok) / len(recent)

    def p50_ms(self, now: float) -> float | None:
        latencies = sorted(ms for _, ms, ok in self._recent(now) if ok)
        return latencies[len(latencies) // 2] if latencies else None

    def circuit(self, now: float) -> str:
        if self.opened_at is None:
            return "closed"
        if now - self.opened_at >= COOL_DOWN_S:
            return "half_open"
        return "open"


class HealthBoard:
    """Health by deployment id; models are as healthy as their best deployment."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._deployments: dict[str, DeploymentHealth] = {}

    def _get(self, deployment_id: str) -> DeploymentHealth:
        health = self._deployments.get(deployment_id)
        if health is None:
            health = self._deployments[deployment_id] = DeploymentHealth()
        return health

    def record(self, deployment_id: str, *, ok: bool, latency_ms: float) -> None:
        health = self._get(deployment_id)
        now = self._clock()
        health.samples.append((now, latency_ms, ok))
        health.probing = False
        if ok:
            health.consecutive_failures = 0
            health.opened_at = None
            return
        health.consecutive_failures += 1
        if health.consecutive_failures >= FAILURES_TO_OPEN or health.opened_at is not None:
            health.opened_at = now  # (re)open: a failed probe starts a new cool-down

    def available(self, deployment_id: str) -> bool:
        """Whether to try this deployment now (a half-open circuit admits one probe)."""
        health = self._deployments.get(deployment_id)
        if health is None:
            return True
        state = health.circuit(self._clock())
        if state == "closed":
            return True
        if state == "half_open" and not health.probing:
            health.probing = True
            return True
        return False

    def state(self, deployment_id: str) -> str:
        """`healthy`, `degraded` or `down`."""
        health = self._deployments.get(deployment_id)
        if health is None:
            return "healthy"
        now = self._clock()
        circuit = health.circuit(now)
        if circuit == "open":
            return "down"
        rate = health.error_rate(now)
        if circuit == "half_open" or (rate is not None and rate >= DEGRADED_ERROR_RATE):
            return "degraded"
        return "healthy"

    def badness(self, deployment_id: str) -> tuple[int, float]:
        """For choosing the least bad when every deployment is out: open circuits last,
        then by error rate."""
        health = self._deployments.get(deployment_id)
        if health is None:
            return (0, 0.0)
        now = self._clock()
        return (1 if health.circuit(now) == "open" else 0, health.error_rate(now) or 0.0)

    def error_rate(self, deployment_id: str) -> float | None:
        health = self._deployments.get(deployment_id)
        return health.error_rate(self._clock()) if health is not None else None

    def p50_ms(self, deployment_id: str) -> float | None:
        health = self._deployments.get(deployment_id)
        return health.p50_ms(self._clock()) if health is not None else None

    def report(self, deployment_id: str) -> dict[str, Any]:
        health = self._deployments.get(deployment_id)
        now = self._clock()
        rate = health.error_rate(now) if health else None
        p50 = health.p50_ms(now) if health else None
        return {
            "state": self.state(deployment_id),
            "circuit": health.circuit(now) if health else "closed",
            "error_rate_5m": round(rate, 4) if rate is not None else None,
            "p50_latency_ms": round(p50, 1) if p50 is not None else None,
            "samples_5m": len(health._recent(now)) if health else 0,
        }
