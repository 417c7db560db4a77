"""`routeplex usage`: the usage views of `GET /api/v1/usage` and the dashboard, from the
shell — rows per day, account and model, or the period's totals per API surface."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from ..api.account import surface_row, surfaces, usage_row
from ..config import Settings, load_settings
from ..metering.money import picodollars
from ..metering.pricing import picousd_to_usd
from ..server import with_store
from ..storage import Store, SurfaceUsage, UsageRow
from .options import ConfigOption, JsonOption, find_account_id, run, show


class View(StrEnum):
    """What one row of `routeplex usage` is."""

    DAY = "day"  # a day, account and model (billing records, then request metadata)
    SURFACE = "surface"  # an API surface over the whole period (request metadata only)


def usage(
    account: Annotated[str | None, typer.Option(help="Account name (default: all).")] = None,
    days: Annotated[int, typer.Option(help="How many days back, today included.", min=1)] = 7,
    by: Annotated[
        View,
        typer.Option(
            "--by",
            help="A row per day, account and model ('day'), or the period's totals per API "
            "surface: OpenAI Chat Completions, Anthropic Messages, OpenAI Responses… ('surface').",
        ),
    ] = View.DAY,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Requests (refused ones among them), tokens and cost per day, account and model
    (the rows of `GET /api/v1/usage` and the dashboard), or per API surface.

    Day rows: billing records for billed days, request metadata for the others.
    Surface totals: request metadata alone, so only as far back as it is kept."""
    settings = load_settings(config)
    since = (datetime.now(UTC) - timedelta(days=days - 1)).date()
    if by is View.SURFACE:
        _by_surface(settings, account, since, days, as_json)
    else:
        _by_day(settings, account, since, as_json)


def _exact_usd(picousd: int) -> str:
    # Exact dollars, not the float the HTTP API carries.
    return str(picousd_to_usd(picousd))


def _cost(picousd: int, unpriced: int) -> str:
    return picodollars(picousd) + (f" (+{unpriced} unpriced)" if unpriced else "")


def _by_day(settings: Settings, account: str | None, since: date, as_json: bool) -> None:
    async def fetch(store: Store) -> tuple[list[UsageRow], dict[str, str]]:
        account_id = await find_account_id(store, account) if account else None
        rows = await store.usage_by_day(account_id=account_id, since=since)
        return rows, {a.id: a.name for a in await store.list_accounts()}

    rows, names = run(lambda: with_store(settings, fetch))

    def name_of(row: UsageRow) -> str:
        return names.get(row.account_id, row.account_id)  # a deleted account: its id

    if as_json:
        print(
            json.dumps(
                [
                    {
                        **usage_row(r),
                        "account": name_of(r),
                        "account_id": r.account_id,
                        "cost_usd": _exact_usd(r.cost_picousd),
                    }
                    for r in rows
                ]
            )
        )
        return
    table = Table("day", "account", "model", "requests", "refused", "input", "output", "cost")
    for r in rows:
        table.add_row(
            r.day.isoformat(),
            name_of(r),
            r.model,
            f"{r.requests:,}",
            "—" if r.refused_requests is None else f"{r.refused_requests:,}",
            f"{r.input_tokens:,}",
            f"{r.output_tokens:,}",
            _cost(r.cost_picousd, r.unknown_cost_requests),
        )
    show(table)


def _by_surface(
    settings: Settings, account: str | None, since: date, days: int, as_json: bool
) -> None:
    async def fetch(store: Store) -> list[SurfaceUsage]:
        account_id = await find_account_id(store, account) if account else None
        return await store.usage_by_surface(account_id=account_id, since=since)

    # Every surface, named as the usage API and the dashboard name it (one list of names).
    named = surfaces(run(lambda: with_store(settings, fetch)))
    if as_json:
        print(
            json.dumps(
                [
                    {**surface_row(name, row), "cost_usd": _exact_usd(row.cost_picousd)}
                    for name, row in named
                ]
            )
        )
        return
    kept = settings.metadata_retention_days
    table = Table(
        "surface",
        "endpoint",
        "requests",
        "refused",
        "input",
        "output",
        "cost",
        caption=f"Since {since.isoformat()}, counted from request metadata, kept {kept} days"
        + (": only those days, not the whole period." if days > kept else "."),
    )
    for name, row in named:
        table.add_row(
            name,
            row.endpoint,
            f"{row.requests:,}",
            f"{row.refused_requests:,}",
            f"{row.input_tokens:,}",
            f"{row.output_tokens:,}",
            _cost(row.cost_picousd, row.unknown_cost_requests),
        )
    show(table)
