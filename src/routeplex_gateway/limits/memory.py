"""In-process quota counters: one process, the embedded default.

The event loop runs one thing at a time and `_acquire` does not await between checking and
reserving, so check-then-reserve is atomic without a lock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from limits.aio.storage import MemoryStorage

from .quota import Quota, Refusal, Ticket


class MemoryQuota(Quota):
    def __init__(self) -> None:
        super().__init__(MemoryStorage())
        self._day = date.min
        self._used: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # scope → tokens, cost
        self._in_flight: dict[str, int] = defaultdict(int)

    def _roll(self, day: date) -> None:
        if day != self._day:
            self._day = day
            self._used.clear()

    async def _acquire(self, ticket: Ticket) -> Refusal | None:
        self._roll(ticket.day)
        for scope in ticket.scopes:
            limits = scope.limits
            if not limits.binding:
                continue
            if limits.concurrency is not None and (
                self._in_flight[scope.name] >= limits.concurrency
            ):
                return Refusal(scope, "concurrency")
            tokens, cost = self._used[scope.name]
            if limits.tokens_per_day is not None and tokens + ticket.tokens > limits.tokens_per_day:
                return Refusal(scope, "tokens", tokens)
            cost_cap = limits.cost_per_day_picousd
            if cost_cap is not None and cost + ticket.cost_picousd > cost_cap:
                return Refusal(scope, "cost", cost)
        for scope in ticket.scopes:
            self._in_flight[scope.name] += 1
            used = self._used[scope.name]
            used[0] += ticket.tokens
            used[1] += ticket.cost_picousd
        return None

    async def _settle(self, ticket: Ticket, tokens: int, cost: int) -> None:
        for scope in ticket.scopes:
            self._in_flight[scope.name] -= 1
            if ticket.day == self._day:  # yesterday's counters are gone at midnight
                used = self._used[scope.name]
                used[0] += tokens - ticket.tokens
                used[1] += cost - ticket.cost_picousd

    async def used_today(self, scope: str, day: date) -> tuple[int, int]:
        self._roll(day)
        tokens, cost = self._used.get(scope, (0, 0))
        return tokens, cost

    async def in_flight(self, scope: str) -> int:
        return self._in_flight.get(scope, 0)

    async def seed(self, day: date, totals: Sequence[Any]) -> None:
        self._roll(day)
        for total in totals:
            for name in (f"account:{total.account_id}", f"key:{total.key_id}"):
                used = self._used[name]
                used[0] += total.tokens
                used[1] += total.cost_picousd
