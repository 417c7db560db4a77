"""Plans and the limits a request is held to: the account's plan, narrowed by per-account
overrides, and a key's own caps, which can only narrow the account's further.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ..config import PlanConfig
from ..metering.pricing import to_picousd

log = logging.getLogger(__name__)

FALLBACK_PLAN = "evaluation"  # an account on a plan this gateway does not know
MAX_COST_PER_DAY_USD = Decimal(1_000_000_000)


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on one counter scope. `None`: no cap of that kind."""

    tokens_per_day: int | None = None
    cost_per_day_picousd: int | None = None
    rpm: int | None = None
    concurrency: int | None = None
    binding: bool = True

    @classmethod
    def of(cls, plan: PlanConfig) -> Limits:
        cost = plan.cost_per_day_usd
        return cls(
            tokens_per_day=plan.tokens_per_day,
            cost_per_day_picousd=to_picousd(cost) if cost is not None else None,
            rpm=plan.rpm,
            concurrency=plan.concurrency,
            binding=plan.binding,
        )

    def overridden(self, overrides: Mapping[str, Any]) -> Limits:
        """These limits with the given fields replaced (an operator's per-account choice)."""
        values = _parse(overrides)
        return Limits(
            tokens_per_day=values.get("tokens_per_day", self.tokens_per_day),
            cost_per_day_picousd=values.get("cost_per_day_picousd", self.cost_per_day_picousd),
            rpm=values.get("rpm", self.rpm),
            concurrency=values.get("concurrency", self.concurrency),
            binding=self.binding,
        )

    def narrowed(self, caps: Mapping[str, Any]) -> Limits:
        """These limits, each lowered to a key's own cap where that is lower."""
        values = _parse(caps)
        return Limits(
            tokens_per_day=_lower(self.tokens_per_day, values.get("tokens_per_day")),
            cost_per_day_picousd=_lower(
                self.cost_per_day_picousd, values.get("cost_per_day_picousd")
            ),
            rpm=_lower(self.rpm, values.get("rpm")),
            concurrency=_lower(self.concurrency, values.get("concurrency")),
            binding=self.binding,
        )


@dataclass(frozen=True, slots=True)
class Policy:
    """What one request is held to: the account's limits and, if it has any, the key's."""

    account: Limits
    key: Limits | None = None


def _lower(current: int | None, cap: int | None) -> int | None:
    if cap is None:
        return current
    return cap if current is None else min(current, cap)


def _parse(raw: Mapping[str, Any]) -> dict[str, int | None]:
    values: dict[str, int | None] = {}
    for name in ("tokens_per_day", "rpm", "concurrency"):
        if name in raw:
            value = raw[name]
            values[name] = int(value) if value is not None else None
    if "cost_per_day_usd" in raw:
        value = raw["cost_per_day_usd"]
        try:
            values["cost_per_day_picousd"] = (
                to_picousd(Decimal(str(value))) if value is not None else None
            )
        except InvalidOperation:
            raise ValueError("cost_per_day_usd must be a decimal number") from None
    return values


def validate_limits(raw: Any) -> dict[str, Any]:
    """Limits as an operator or account holder sent them: known fields, sane values."""
    if not isinstance(raw, dict):
        raise ValueError("limits must be an object")
    allowed = {"tokens_per_day", "cost_per_day_usd", "rpm", "concurrency"}
    unknown = set(raw) - allowed
    if unknown:
        # Names the allowed fields, not the caller's: error messages never echo input.
        raise ValueError(f"unknown limit fields; allowed: {', '.join(sorted(allowed))}")
    for name in ("tokens_per_day", "rpm", "concurrency"):
        value = raw.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise ValueError(f"{name} must be a non-negative integer")
    if raw.get("cost_per_day_usd") is not None:
        try:
            cost = Decimal(str(raw["cost_per_day_usd"]))
        except InvalidOperation:
            raise ValueError("cost_per_day_usd must be a decimal number") from None
        # NaN, Infinity and astronomical amounts are no cap: converting them to pico-dollars
        # fails later, when the key cache loads them (and so at every start-up).
        if not cost.is_finite() or cost > MAX_COST_PER_DAY_USD:
            raise ValueError("cost_per_day_usd must be a finite amount up to 1000000000")
        if cost < 0:
            raise ValueError("cost_per_day_usd must not be negative")
    return dict(raw)


class Plans:
    """The plans this gateway knows, resolved into request policies."""

    def __init__(self, plans: Mapping[str, PlanConfig]) -> None:
        self._limits = {name: Limits.of(plan) for name, plan in plans.items()}

    def __contains__(self, name: object) -> bool:
        return name in self._limits

    def names(self) -> list[str]:
        return list(self._limits)

    def limits(self, name: str) -> Limits:
        return self._limits[name]

    def policy(
        self,
        plan: str,
        account_overrides: Mapping[str, Any] | None,
        key_caps: Mapping[str, Any] | None,
    ) -> Policy:
        limits = self._limits.get(plan)
        if limits is None:
            log.warning(
                "account on an unknown plan; holding it to the fallback plan",
                extra={"fallback_plan": FALLBACK_PLAN},
            )
            limits = self._limits[FALLBACK_PLAN]
        if account_overrides:
            limits = limits.overridden(account_overrides)
        key = limits.narrowed(key_caps) if key_caps else None
        return Policy(account=limits, key=key)
