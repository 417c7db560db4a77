"""Turning a template and its values into an HTML response: the Jinja2 environment (templates
shipped in the package, autoescaped) and the filters the pages format numbers, money and
times with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from .. import __version__
from ..data_policy import DataRequirement
from ..metering import money

STATIC = "/app/static"


def number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _decimal(value: float | Decimal) -> Decimal:
    # A float here came from a JSON view of an exact Decimal; its shortest repr is that
    # decimal (0.00015 → "0.00015"), never its binary expansion.
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def usd(value: float | Decimal | None) -> str:
    """An amount in dollars, as money: $0.17, $0.0042 below a cent."""
    return "unknown" if value is None else money.dollars(_decimal(value))


def picousd(value: int | None) -> str:
    """A stored amount in pico-dollars, as money."""
    return "unknown" if value is None else money.picodollars(value)


def price(value: float | Decimal | None) -> str:
    """A price per 1K tokens, exactly: $0.00015, $0.60."""
    return "unknown" if value is None else money.price(_decimal(value))


def breakable(value: object) -> Markup:
    """A value that may wrap after `.`, `_`, `-` or `/` (an endpoint, a model id, an error
    code) rather than anywhere inside a word; escaped like any other value."""
    return Markup("<wbr>").join(escape(part) for part in _BREAK_AFTER.split(str(value)))


_BREAK_AFTER = re.compile(r"(?<=[._/-])")


def when(value: datetime | date | str | None) -> str:
    """A UTC time to the minute (or a day as is); the pages say UTC once, near the top."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def requirement(view: Mapping[str, Any] | None) -> str:
    """A data-policy requirement as the JSON views show it, written as its label
    (`zero-retention, region=eu`), or `none`."""
    if not view:
        return "none"
    regions = view.get("regions")
    return (
        DataRequirement(
            zero_retention=bool(view.get("zero_retention")),
            no_training=bool(view.get("no_training")),
            regions=None if regions is None else frozenset(regions),
        ).label()
        or "none"
    )


def percent(used: int | float | None, cap: int | float | None) -> int:
    if not used or not cap:
        return 0
    return min(100, round(100 * used / cap))


class Pages:
    """The dashboard's templates, loaded from the package once per app."""

    def __init__(self, *, simulated: bool = False) -> None:
        self._env = Environment(
            loader=PackageLoader("routeplex_gateway.dashboard", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters.update(
            number=number,
            usd=usd,
            picousd=picousd,
            price=price,
            when=when,
            percent=percent,
            breakable=breakable,
            requirement=requirement,
        )
        self._env.globals.update(static=STATIC, version=__version__, simulated=simulated)

    def render(self, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        html = self._env.get_template(template).render(context)
        return HTMLResponse(html, status_code=status)
