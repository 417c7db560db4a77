"""The quota: admit a request (concurrency and a reservation of its worst case against the
daily caps, then its rate — so a refused request spends no rate allowance), then settle it
with what it really used.

Requests per minute use the `limits` library's sliding-window counter (its in-memory moving
window hands each expiry sweep to a thread — a thread hop per request on the hot path,
measured in bench/RESULTS.md); concurrency and the daily
token and cost counters are the backend's own atomic operations. Both backends share this
class and differ only in those counters (`_acquire`, `_settle`, `_seed`).
"""

from __future__ import annotations

import itertools
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from ..errors import ErrorCode, GatewayError
from .plans import Limits, Policy

log = logging.getLogger(__name__)

# Ticket ids: unique across processes (a random prefix) and cheap (a counter).
_PROCESS: str = secrets.token_hex(6) + "-"
_SEQUENCE: itertools.count[int] = itertools.count()


@dataclass(frozen=True, slots=True)
class Scope:
    """One set of counters: an account's, or a key's own."""

    kind: str  # "account" | "key"
    id: str
    limits: Limits

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(slots=True)
class Ticket:
    """An admitted request's hold on its scopes, until it is settled."""

    day: date
    scopes: tuple[Scope, ...]
    tokens: int
    cost_picousd: int
    id: str = field(default_factory=lambda: f"{_PROCESS}{next(_SEQUENCE):x}")
    settled: bool = False
    generation: str = ""  # the seeding it was last held under; another: Redis lost it since


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the counters refused: which scope, which limit, and what was used."""

    scope: Scope
    limit: str  # "concurrency" | "tokens" | "cost"
    used: int = 0


def utc_today() -> date:
    return datetime.now(UTC).date()


def next_midnight_epoch(day: date) -> int:
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    return int(midnight.timestamp())


def _headers(limit: int, remaining: int, reset_epoch: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(0, remaining)),
        "X-RateLimit-Reset": str(math.ceil(reset_epoch)),
    }


def refusal_error(refusal: Refusal, ticket: Ticket) -> GatewayError:
    scope, day = refusal.scope, ticket.day
    reset = next_midnight_epoch(day)
    until_reset = max(1, reset - int(time.time()))
    details: dict[str, Any] = {"scope": scope.kind, "limit": refusal.limit}
    if refusal.limit == "concurrency":
        cap = scope.limits.concurrency or 0
        details["limit"] = "concurrency"
        return GatewayError(
            ErrorCode.RATE_LIMITED,
            f"Concurrency limit reached: the {scope.kind} allows {cap} request(s) in flight.",
            details=details,
            headers=_headers(cap, 0, time.time() + 1),
            retry_after_s=1,
        )
    if refusal.limit == "tokens":
        cap = scope.limits.tokens_per_day or 0
        code = ErrorCode.DAILY_LIMIT_EXCEEDED
        message = (
            f"This request could use up to {ticket.tokens} tokens, more than the "
            f"{scope.kind}'s remaining {max(0, cap - refusal.used)} of {cap} for today "
            "(resets at 00:00 UTC). Lower max_tokens or wait."
        )
    else:
        cap = scope.limits.cost_per_day_picousd or 0
        code = ErrorCode.DAILY_COST_LIMIT_EXCEEDED
        message = (
            f"This request could cost more than the {scope.kind}'s remaining daily "
            "budget (resets at 00:00 UTC). Lower max_tokens, pick a cheaper model, "
            "or wait."
        )
    if scope.kind == "key":
        code = ErrorCode.QUOTA_EXCEEDED
    details.update(
        {
            "cap": cap,
            "used": refusal.used,
            "requested": ticket.tokens if refusal.limit == "tokens" else ticket.cost_picousd,
        }
    )
    return GatewayError(
        code,
        message,
        details=details,
        headers=_headers(cap, cap - refusal.used, reset),
        retry_after_s=until_reset,
    )


def counters_unavailable() -> GatewayError:
    # Caps that cannot be checked are not enforced by letting requests through: refuse, as
    # when the metadata buffer is full, and say it is worth retrying.
    return GatewayError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        "The gateway cannot reach its limits store right now; the request was not sent. "
        "Retry shortly.",
        retryable=True,
        retry_after_s=1.0,
    )


async def _nothing_recorded(day: date) -> Sequence[Any]:
    return ()


class Quota:
    """Admission and settlement over a backend's counters."""

    # What the backend raises when its store is unreachable (none for memory).
    unavailable: tuple[type[Exception], ...] = ()
    # Whether `settle` completes without suspending (in-process counters): then cancelling
    # its caller cannot interrupt it, and it needs no task of its own to finish in.
    settles_in_place = True

    def __init__(self, rate_storage: Storage) -> None:
        # Where the day's usage is read back from when counters must start over: the
        # recorded metadata (the gateway sets it once its store is open).
        self.recorded: Callable[[date], Awaitable[Sequence[Any]]] = _nothing_recorded
        self._rate_storage = rate_storage
        self._rpm = SlidingWindowCounterRateLimiter(rate_storage)
        self._items: dict[int, RateLimitItemPerMinute] = {}

    # --- backend hooks ------------------------------------------------------------------
    async def _acquire(self, ticket: Ticket) -> Refusal | None:
        raise NotImplementedError

    async def _settle(self, ticket: Ticket, tokens: int, cost: int) -> None:
        raise NotImplementedError

    async def used_today(self, scope: str, day: date) -> tuple[int, int]:
        """(tokens, cost in pico-USD) counted today for a scope name."""
        raise NotImplementedError

    async def in_flight(self, scope: str) -> int:
        """Requests of a scope name holding a concurrency slot now."""
        raise NotImplementedError

    async def seed(self, day: date, totals: Sequence[Any]) -> None:
        """Start the day's counters from what the metadata already says (at start-up, and
        whenever the backend finds them lost)."""
        raise NotImplementedError

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        """Raise one of `unavailable` unless the counters' store answers (readiness)."""
        return None

    # --- the interface ------------------------------------------------------------------
    def _item(self, rpm: int) -> RateLimitItemPerMinute:
        item = self._items.get(rpm)
        if item is None:
            item = self._items[rpm] = RateLimitItemPerMinute(rpm)
        return item

    async def _check_rate(self, scopes: tuple[Scope, ...]) -> None:
        for scope in scopes:
            rpm = scope.limits.rpm
            if rpm is None:
                continue
            item = self._item(rpm)
            if await self._rpm.hit(item, scope.name) or not scope.limits.binding:
                continue
            stats = await self._rpm.get_window_stats(item, scope.name)
            raise GatewayError(
                ErrorCode.RATE_LIMITED,
                f"Rate limit reached: the {scope.kind} allows {rpm} requests per minute.",
                details={"scope": scope.kind, "limit": "rpm", "cap": rpm},
                headers=_headers(rpm, stats.remaining, stats.reset_time),
                retry_after_s=max(1.0, stats.reset_time - time.time()),
            )

    async def admit(
        self, account_id: str, key_id: str, policy: Policy, *, tokens: int, cost_picousd: int
    ) -> Ticket:
        """Hold the request's worst case, or raise the refusal as a GatewayError."""
        scopes = [Scope("account", account_id, policy.account)]
        if policy.key is not None:
            scopes.append(Scope("key", key_id, policy.key))
        ticket = Ticket(
            day=utc_today(), scopes=tuple(scopes), tokens=tokens, cost_picousd=cost_picousd
        )
        try:
            refusal = await self._acquire(ticket)
        except self.unavailable:
            raise counters_unavailable() from None
        if refusal is not None:
            ticket.settled = True
            raise refusal_error(refusal, ticket)
        # Counted only once the request holds its slot and reservation: a request refused
        # for those must not use up the minute's allowance too.
        try:
            await self._check_rate(ticket.scopes)
        except BaseException as exc:
            await self.settle(ticket, 0, 0)  # hold nothing for a request not let through
            if isinstance(exc, self.unavailable):
                raise counters_unavailable() from None
            raise
        return ticket

    async def settle(self, ticket: Ticket, tokens: int | None, cost_picousd: int | None) -> None:
        """Replace the reservation by the real usage and free the concurrency slot.

        Unknown usage keeps the reservation: the provider may have billed the worst case."""
        if ticket.settled:
            return
        ticket.settled = True
        try:
            await self._settle(
                ticket,
                ticket.tokens if tokens is None else tokens,
                ticket.cost_picousd if cost_picousd is None else cost_picousd,
            )
        except self.unavailable as exc:
            # The answer has been sent; failing it now would help nobody. The backend keeps
            # the reservation (the worst case, so caps err on the safe side) and settles when
            # it can (Redis: at the next heartbeat that reaches it); the metadata record, the
            # billing source, is unaffected.
            log.warning("quota not settled", extra={"error_type": type(exc).__name__})

    async def remaining(self, account_id: str, limits: Limits) -> tuple[int | None, int | None]:
        """Tokens and pico-USD left today for an account (None: no cap or not binding)."""
        if not limits.binding:
            return None, None
        try:
            used_tokens, used_cost = await self.used_today(f"account:{account_id}", utc_today())
        except self.unavailable:
            raise counters_unavailable() from None
        tokens = None if limits.tokens_per_day is None else limits.tokens_per_day - used_tokens
        cost = (
            None if limits.cost_per_day_picousd is None else limits.cost_per_day_picousd - used_cost
        )
        return tokens, cost

    async def rate_in_use(self, scope: str, rpm: int) -> int:
        """Requests counted in the current minute window (for the dashboard)."""
        stats = await self._rpm.get_window_stats(self._item(rpm), scope)
        return rpm - stats.remaining
