"""Live health of each deployment: rolling latency and error windows, and a circuit breaker.

Every attempt reports here. A deployment that keeps failing is taken out (circuit open) and,
after a cool-down, let back in for one probe (half-open): a success closes the circuit, a
failure opens it again. Asking whether a deployment is available (`available`) takes
nothing — the scorer, the router's plan and the health pages all ask; the probe is taken
only when an attempt is about to be made (`begin`), and one that never reports (its request
cancelled) expires, so a tripped deployment cannot stay half-open for ever. Only outcomes
and timings are kept — never anything of a request.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

WINDOW_S = 300.0  # error rate and latency over the last 5 minutes
FAILURES_TO_OPEN = 3
COOL_DOWN_S = 30.0
PROBE_EXPIRY_S = 60.0  # a probe not heard from by then is presumed lost; another may go
DEGRADED_ERROR_RATE = 0.2
_MAX_SAMPLES = 512


@dataclass(slots=True)
class DeploymentHealth:
    samples: deque[tuple[float, float, bool]] = field(
        default_factory=lambda: deque(maxlen=_MAX_SAMPLES)
    )  # (time, latency ms, ok)
    consecutive_failures: int = 0
    opened_at: float | None = None
    probe_until: float | None = None  # a probe is out until it reports or this time passes

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

    def probe_free(self, now: float) -> bool:
        return self.probe_until is None or now >= self.probe_until


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
        health.probe_until = None
        if ok:
            health.consecutive_failures = 0
            health.opened_at = None
            return
        health.consecutive_failures += 1
        if health.consecutive_failures >= FAILURES_TO_OPEN or health.opened_at is not None:
            health.opened_at = now  # (re)open: a failed probe starts a new cool-down

    def available(self, deployment_id: str) -> bool:
        """Whether this deployment may be tried now: its circuit is closed, or half-open
        with its probe not taken. A question only — it takes nothing."""
        health = self._deployments.get(deployment_id)
        if health is None:
            return True
        now = self._clock()
        state = health.circuit(now)
        return state == "closed" or (state == "half_open" and health.probe_free(now))

    def begin(self, deployment_id: str) -> bool:
        """Called as an attempt is made: true when it may go, and on a half-open circuit it
        takes the one probe (given back by `record` or `release`, or when it expires)."""
        health = self._deployments.get(deployment_id)
        if health is None:
            return True
        now = self._clock()
        state = health.circuit(now)
        if state == "closed":
            return True
        if state == "half_open" and health.probe_free(now):
            health.probe_until = now + PROBE_EXPIRY_S
            return True
        return False

    def release(self, deployment_id: str) -> None:
        """An attempt ended without an outcome (its request was cancelled): free the probe."""
        health = self._deployments.get(deployment_id)
        if health is not None:
            health.probe_until = None

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
