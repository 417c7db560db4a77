"""What the `routeplex` commands share: the console, the common options, running a coroutine."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

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
        help="TOML config file.",
        exists=True,
        dir_okay=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(fn())  # type: ignore[arg-type]


async def find_account_id(store: Store, name: str) -> str:
    account = await store.get_account_by_name(name)
    if account is None:
        err.print(f"[red]No account named {name!r}.[/]")
        raise typer.Exit(1)
    return account.id
