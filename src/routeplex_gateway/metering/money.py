"""Amounts of US dollars written for people: `$0.17`, `$1,234.50`, and below a cent just
enough digits to say how much — `$0.0042` — so a request that cost a fraction of a cent
never reads as `$0.00`, and a daily cap never reads as `$0.170000`.

Amounts are exact `Decimal` dollars or integer pico-dollars (10⁻¹² USD, as stored) and are
rounded in decimal, half away from zero: no binary float ever touches them.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .pricing import picousd_to_usd

CENT = Decimal("0.01")
# Below a cent: this many significant digits (0.004213 → 0.0042).
SIGNIFICANT_BELOW_A_CENT = 2


def dollars(amount: Decimal | int) -> str:
    """An amount (a cost, a cap): cents from a cent up, two significant digits below one."""
    amount = Decimal(amount)
    if not amount.is_finite():
        raise ValueError("an amount of money is a finite number")
    sign = "-" if amount < 0 else ""
    size = abs(amount)
    if 0 < size < CENT:
        # adjusted() is the exponent of the leading digit: 0.004213 → -3, so keep 10⁻⁴.
        step = Decimal(1).scaleb(size.adjusted() - SIGNIFICANT_BELOW_A_CENT + 1)
        rounded = size.quantize(step, ROUND_HALF_UP)
        if rounded < CENT:  # 0.00996 rounds up to a whole cent: written as cents below
            return f"{sign}${rounded.normalize():f}"
    return f"{sign}${size.quantize(CENT, ROUND_HALF_UP):,f}"


def picodollars(picousd: int) -> str:
    """`dollars` of a stored amount in pico-dollars."""
    return dollars(picousd_to_usd(picousd))


def price(amount: Decimal) -> str:
    """A price (per 1K tokens) exactly, with at least two decimals: `$0.60`, `$0.00015`.

    Not rounded: a price is a rate the reader multiplies, and $0.00125 is not $0.0013.
    """
    if not amount.is_finite():
        raise ValueError("a price is a finite number")
    exact = amount.normalize()
    if exact.as_tuple().exponent >= -2:  # type: ignore[operator]
        exact = exact.quantize(CENT)
    sign = "-" if exact < 0 else ""
    return f"{sign}${abs(exact):,f}"
