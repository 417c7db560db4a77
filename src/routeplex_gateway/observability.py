"""Prometheus metrics. Labels are closed sets (endpoint, status class, provider, model ids
from the catalog) — never anything a caller wrote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

if TYPE_CHECKING:
    from .exchange import Exchange

_OVERHEAD_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 25, 50, 100)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "routeplex_requests",
            "Requests handled, by endpoint and HTTP status class.",
            ["endpoint", "status_class"],
            registry=self.registry,
        )
        self.overhead = Histogram(
            "routeplex_gateway_overhead_ms",
            "Time spent in the gateway itself (not waiting on a provider), in milliseconds.",
            ["endpoint"],
            buckets=_OVERHEAD_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def observe(self, ex: Exchange, status: int) -> None:
        # Label lookups take a lock and build tuples; the label sets are few, so keep them.
        key = (ex.endpoint.value, status // 100)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(key[0], f"{key[1]}xx"),
                self.overhead.labels(key[0]),
            )
        children[0].inc()
        children[1].observe(ex.overhead_ms())

    def render(self) -> bytes:
        return generate_latest(self.registry)
