"""Money written for people: cents from a cent up, two significant digits below one, prices
exactly — from exact Decimal and integer inputs, rounded in decimal (never through a float)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from routeplex_gateway.dashboard.rendering import picousd, price, usd
from routeplex_gateway.metering.money import dollars, picodollars
from routeplex_gateway.metering.money import price as exact_price

PICO = 10**12


@pytest.mark.parametrize(
    ("amount", "written"),
    [
        (Decimal("0.17"), "$0.17"),
        (Decimal("1.6666666"), "$1.67"),
        (Decimal("0"), "$0.00"),
        (0, "$0.00"),
        (3, "$3.00"),
        (Decimal("1234567.891"), "$1,234,567.89"),
        # Half away from zero, in decimal: 0.125 is exact here, unlike the float 0.125…
        (Decimal("0.125"), "$0.13"),
        (Decimal("2.675"), "$2.68"),  # the float 2.675 is 2.67499999…, and would give $2.67
        (Decimal("0.01"), "$0.01"),
        # Below a cent: two significant digits, trailing zeros dropped.
        (Decimal("0.0042"), "$0.0042"),
        (Decimal("0.004213"), "$0.0042"),
        (Decimal("0.004250"), "$0.0043"),
        (Decimal("0.0040"), "$0.004"),
        (Decimal("0.000027"), "$0.000027"),
        (Decimal("0.00999"), "$0.01"),  # rounds up to a whole cent: written as one
        (Decimal("0.009949"), "$0.0099"),
        (Decimal("-0.0042"), "-$0.0042"),
        (Decimal("-12.5"), "-$12.50"),
    ],
)
def test_dollars(amount: Decimal | int, written: str) -> None:
    assert dollars(amount) == written


@pytest.mark.parametrize(
    ("stored", "written"),
    [
        (170_000_000_000, "$0.17"),  # the evaluation plan's daily cap
        (1_670_000_000_000, "$1.67"),
        (4_200_000_000, "$0.0042"),
        (27_000_000, "$0.000027"),
        (1, "$0.000000000001"),  # one pico-dollar: still not $0.00
        (0, "$0.00"),
        (100_000_000_000 + 200_000_000_000, "$0.30"),  # 0.1 + 0.2, exactly
        (123_456_789_012_345_678, "$123,456.79"),
    ],
)
def test_picodollars(stored: int, written: str) -> None:
    assert picodollars(stored) == written
    assert picousd(stored) == written  # the dashboard's filter


@pytest.mark.parametrize(
    ("rate", "written"),
    [
        (Decimal("0.00015"), "$0.00015"),
        (Decimal("0.0006"), "$0.0006"),
        (Decimal("0.00125"), "$0.00125"),  # a rate is not rounded: $0.0013 would misprice
        (Decimal("0.0125"), "$0.0125"),
        (Decimal("0.6"), "$0.60"),
        (Decimal("10"), "$10.00"),
        (Decimal("1E+1"), "$10.00"),
        (Decimal("1234.5"), "$1,234.50"),
    ],
)
def test_prices_are_exact(rate: Decimal, written: str) -> None:
    assert exact_price(rate) == written
    assert price(rate) == written


def test_the_dashboard_filters() -> None:
    # Unknown stays unknown, never $0.00.
    assert usd(None) == picousd(None) == price(None) == "unknown"
    # A float from a JSON view is read as the decimal it was written from, not its binary value.
    assert usd(0.0042) == "$0.0042" and price(0.00015) == "$0.00015"
    assert usd(2.675) == "$2.68"


def test_not_a_number_is_refused() -> None:
    for bad in (Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(ValueError):
            dollars(bad)
        with pytest.raises(ValueError):
            exact_price(bad)
