"""Retry delays: exponential from a base, capped, with jitter so that replicas retrying the
same dead dependency spread out instead of arriving together."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """The delay before the next try after each consecutive failure.

    The n-th delay is between half and all of `base_s · 2^(n-1)`, never above `cap_s`
    ("equal jitter": it still grows, and never collapses to zero).
    """

    def __init__(
        self, *, base_s: float, cap_s: float, rng: Callable[[], float] = random.random
    ) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng
        self.failures = 0

    def next_delay(self) -> float:
        self.failures += 1
        ceiling: float = min(self.cap_s, self.base_s * 2.0 ** min(self.failures - 1, 62))
        return ceiling * (0.5 + 0.5 * self._rng())

    def reset(self) -> None:
        self.failures = 0
