"""What the `routeplex` commands share: the console, the common options, running a coroutine,
refusing a user's mistake in one line."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..config import Settings
from ..storage import Store

T = TypeVar("T")

console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="ROUTEPLEX_CONFIG",
        # Not `exists=True`: the loader reports a missing file in the one line it uses for
        # every other mistake in it.
        help="TOML config file.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(fn())  # type: ignore[arg-type]


async def find_account_id(store: Store, name: str) -> str:
    account = await store.get_account_by_name(name)
    if account is None:
        refuse(f"No account named {name!r}.")
    return account.id


def show(table: Table) -> None:
    """`table` with every cell whole: ids are copied into other commands, days and models
    grepped. On a terminal it fits the width, folding a cell rather than cutting it short;
    piped, it is printed at its natural width, one line a row, whatever COLUMNS says."""
    for column in table.columns:
        column.overflow = "fold"
    if console.is_terminal:
        console.print(table)
        return
    unbounded = console.options.update_width(1_000_000)
    Console(width=console.measure(table, options=unbounded).maximum).print(table)


def complain(message: str) -> None:
    """`message` as one line on stderr: never wrapped, as scripts and people grep it."""
    err.print(f"[red]{escape(message)}[/]", soft_wrap=True)


def refuse(message: str, code: int = 1) -> NoReturn:
    complain(message)
    raise typer.Exit(code)


def check_plan(settings: Settings, plan: str) -> None:
    if plan not in settings.all_plans:
        refuse(f"Unknown plan {plan!r}; known: {', '.join(settings.all_plans)}.")
