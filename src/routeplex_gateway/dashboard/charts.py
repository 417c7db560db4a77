"""Usage rows shaped for the usage pages: one series per model (or account, or kind of token)
over every day of the period, and the period's totals.

The series are what the page hands to the charting script as JSON; the tables under the
charts are rendered from the same rows, so what the chart draws and what the table says
cannot disagree. Totals are summed in exact pico-dollars before converting, as
`GET /api/v1/usage` does, so the two agree to the last digit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ..metering.pricing import picousd_to_usd
from ..storage import UsageRow

PERIODS = (7, 30, 90)
TOKEN_KINDS = (
    ("input_tokens", "Input"),
    ("output_tokens", "Output"),
    ("cache_read_tokens", "Cache read"),
    ("cache_write_tokens", "Cache write"),
    ("reasoning_tokens", "Reasoning"),
)


@dataclass(frozen=True, slots=True)
class Totals:
    requests: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_picousd: int
    unknown_cost_requests: int
    refused_requests: int  # known ones: days billed before they were counted add nothing

    @classmethod
    def of(cls, rows: Iterable[UsageRow]) -> Totals:
        rows = list(rows)
        return cls(
            requests=sum(r.requests for r in rows),
            input_tokens=sum(r.input_tokens for r in rows),
            output_tokens=sum(r.output_tokens for r in rows),
            cache_read_tokens=sum(r.cache_read_tokens for r in rows),
            cache_write_tokens=sum(r.cache_write_tokens for r in rows),
            reasoning_tokens=sum(r.reasoning_tokens for r in rows),
            cost_picousd=sum(r.cost_picousd for r in rows),
            unknown_cost_requests=sum(r.unknown_cost_requests for r in rows),
            refused_requests=sum(r.refused_requests or 0 for r in rows),
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def cost_usd(self) -> float:
        return float(picousd_to_usd(self.cost_picousd))


def period(raw: str | None) -> int:
    """The chosen period in days; anything else is the shortest."""
    # isdecimal, not isdigit: "²" is a digit int() refuses (a 500); the length keeps int() cheap.
    if raw is None or not (raw.isdecimal() and len(raw) <= 4):
        return PERIODS[0]
    return int(raw) if int(raw) in PERIODS else PERIODS[0]


def days(since: date, until: date) -> list[date]:
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def series(
    rows: Iterable[UsageRow],
    since: date,
    until: date,
    *,
    unit: str,
    group: Callable[[UsageRow], str],
    value: Callable[[UsageRow], float],
) -> dict[str, Any]:
    """One dataset per group, one point per day (zero on days without usage)."""
    axis = days(since, until)
    index = {day: n for n, day in enumerate(axis)}
    data: dict[str, list[float]] = {}
    for row in rows:
        points = data.setdefault(group(row), [0] * len(axis))
        if row.day in index:
            points[index[row.day]] += value(row)
    return {
        "unit": unit,
        "stacked": True,
        "labels": [day.isoformat() for day in axis],
        "datasets": [{"label": name, "data": points} for name, points in sorted(data.items())],
    }


def token_series(rows: Iterable[UsageRow], since: date, until: date) -> dict[str, Any]:
    """One dataset per kind of token, summed over models. Side by side, not stacked: input
    includes cached tokens and output includes reasoning, so a stack would count them twice."""
    rows = list(rows)
    axis = days(since, until)
    index = {day: n for n, day in enumerate(axis)}
    datasets = []
    for field, label in TOKEN_KINDS:
        points = [0] * len(axis)
        for row in rows:
            if row.day in index:
                points[index[row.day]] += getattr(row, field)
        datasets.append({"label": label, "data": points})
    return {
        "unit": "tokens",
        "stacked": False,
        "labels": [d.isoformat() for d in axis],
        "datasets": datasets,
    }


def model_of(row: UsageRow) -> str:
    return row.model


def requests_of(row: UsageRow) -> float:
    return row.requests


def cost_usd(row: UsageRow) -> float:
    return float(picousd_to_usd(row.cost_picousd))


def by_model(rows: Iterable[UsageRow]) -> list[tuple[str, Totals]]:
    """Totals per model over the period, busiest first."""
    groups: dict[str, list[UsageRow]] = {}
    for row in rows:
        groups.setdefault(row.model, []).append(row)
    totals = [(model, Totals.of(group)) for model, group in groups.items()]
    return sorted(totals, key=lambda item: (-item[1].requests, item[0]))
