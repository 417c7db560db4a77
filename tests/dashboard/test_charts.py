"""Usage rows shaped for the charts: every day of the period present, one series per group,
tokens side by side, and totals summed exactly before converting to dollars."""

from __future__ import annotations

from datetime import date

from routeplex_gateway.dashboard import charts
from routeplex_gateway.storage import UsageRow

MONDAY = date(2026, 11, 23)


def _row(
    day: date, model: str, requests: int, cost_picousd: int, refused: int | None = 0
) -> UsageRow:
    return UsageRow(
        day=day,
        account_id="acc",
        model=model,
        requests=requests,
        input_tokens=10 * requests,
        output_tokens=20 * requests,
        cache_read_tokens=requests,
        cache_write_tokens=0,
        reasoning_tokens=0,
        cost_picousd=cost_picousd,
        unknown_cost_requests=0,
        refused_requests=refused,
    )


def test_series_fill_every_day_and_group_by_model() -> None:
    rows = [_row(MONDAY, "b", 2, 5), _row(date(2026, 11, 25), "a", 1, 7), _row(MONDAY, "a", 3, 1)]
    spec = charts.series(
        rows,
        MONDAY,
        date(2026, 11, 26),
        unit="requests",
        group=charts.model_of,
        value=charts.requests_of,
    )
    assert spec["labels"] == ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26"]
    assert spec["datasets"] == [
        {"label": "a", "data": [3, 0, 1, 0]},
        {"label": "b", "data": [2, 0, 0, 0]},
    ]
    assert spec["stacked"] is True
    tokens = charts.token_series(rows, MONDAY, MONDAY)
    assert tokens["stacked"] is False, "input includes cached tokens: never stack them"
    assert {d["label"]: d["data"] for d in tokens["datasets"]}["Output"] == [100]


def test_totals_are_exact_and_periods_are_the_offered_ones() -> None:
    # 0.1 + 0.2 in pico-dollars: exact as integers, so the total is exactly what the API says.
    rows = [_row(MONDAY, "a", 1, 100_000_000_000), _row(MONDAY, "b", 1, 200_000_000_000)]
    totals = charts.Totals.of(rows)
    assert totals.cost_usd == 0.3 and totals.requests == 2 and totals.total_tokens == 60
    assert [m for m, _ in charts.by_model(rows)] == ["a", "b"]
    assert charts.period("30") == 30 and charts.period("31") == 7 and charts.period(None) == 7


def test_refused_totals_count_what_is_known() -> None:
    # A day billed before refusals were counted apart (None) adds nothing, rather than failing.
    rows = [_row(MONDAY, "a", 3, 0, refused=2), _row(date(2026, 11, 24), "a", 1, 0, refused=None)]
    totals = charts.Totals.of(rows)
    assert (totals.requests, totals.refused_requests, totals.unknown_cost_requests) == (4, 2, 0)
