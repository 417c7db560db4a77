"""What `routeplex serve` tells the person who started it, once the port is bound: where it
listens, whether answers are simulated, the demo account's plan and caps, its keys the one
time they exist, and commands written the way they can be typed from where that person
stands.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from .config import Settings
from .limits.plans import Limits, Plans
from .metering.pricing import picousd_to_usd
from .providers import builtin
from .routing.catalog import AUTO_MODEL, builtin_endpoints, shipped_family
from .storage import Account

console = Console()


def program() -> str:
    """The `routeplex` executable as it can be typed here: its name when the one on PATH is
    this one, else its path — relative when it lies under the current directory, as
    `.venv/bin/routeplex` does after `make serve`."""
    exe = Path(sys.executable).with_name("routeplex")
    if not exe.is_file():
        return f"{shlex.quote(sys.executable)} -m routeplex_gateway"
    on_path = shutil.which("routeplex")
    if on_path is not None and os.path.samefile(on_path, exe):
        return "routeplex"
    path, here = exe.absolute(), Path.cwd()
    if path.is_relative_to(here):
        path = path.relative_to(here)
    return shlex.quote(str(path))


@dataclass(frozen=True, slots=True)
class Commands:
    """`routeplex` commands that reach this gateway's database when pasted into the shell
    that started it."""

    program: str
    config: Path | None = None  # the --config file serve was given
    data_dir: Path | None = None  # only when given on serve's own command line

    def __call__(self, args: str) -> str:
        env = f"ROUTEPLEX_DATA_DIR={shlex.quote(str(self.data_dir))} " if self.data_dir else ""
        config = f" --config {shlex.quote(str(self.config))}" if self.config else ""
        return f"{env}{self.program} {args}{config}"


@dataclass(frozen=True, slots=True)
class Start:
    """What start-up found: the demo account, and its keys the one time they are minted."""

    account: Account
    key: str | None = None
    admin_key: str | None = None


def caps(limits: Limits) -> str:
    """A plan's limits in words."""
    if not limits.binding:
        return "usage is counted, nothing is capped"
    parts = []
    if limits.rpm is not None:
        parts.append(f"{limits.rpm:,} requests a minute")
    if limits.concurrency is not None:
        parts.append(f"{limits.concurrency:,} at a time")
    daily = []
    if limits.tokens_per_day is not None:
        daily.append(f"{limits.tokens_per_day:,} tokens")
    if limits.cost_per_day_picousd is not None:
        daily.append(f"${picousd_to_usd(limits.cost_per_day_picousd):,.2f}")
    if daily:
        parts.append(f"{' and '.join(daily)} a day")
    return ", ".join(parts) or "no caps"


def _say(text: str, style: str | None = None) -> None:
    """A line printed as is: no markup, no highlighting, never wrapped (it may be pasted)."""
    console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)


def banner(
    settings: Settings,
    base: str,
    start: Start,
    commands: Commands,
    simulator_url: str | None,
) -> None:
    if simulator_url is not None:
        console.print(
            "[bold black on yellow] SIMULATED PROVIDERS [/] No provider credentials are set, "
            "so answers come from RoutePlex's built-in upstream simulator "
            f"({escape(simulator_url)}), not a real model.\n"
            f"Set {_either(d.key_env for d in builtin())} to use a real provider; "
            f"{_either(d.base_url_env for d in builtin())} points one at another server.\n",
            soft_wrap=True,
        )
    console.print(
        f"RoutePlex listening on [bold]{escape(base)}[/]  (database: "
        f"{settings.resolved_database_url.split('://')[0]})",
        soft_wrap=True,
    )
    _say(f"Dashboard: {base}/app\n")
    account = start.account
    limits = Plans(settings.all_plans).policy(account.plan, account.limits, None).account
    _say(f"The {account.name} account is on the {account.plan} plan: {caps(limits)}.")
    if limits.binding:
        _say(f"Lift its caps with:  {commands(f'accounts update {account.name} --plan unlimited')}")
    if start.key is None:
        _say(
            "Use its existing key, or create one:  "
            f"{commands(f'keys create --account {account.name}')}"
        )
        return
    key = start.key
    model = _example_model(settings, simulator_url)
    _say("\nYour demo API key (shown once, stored only as a hash):\n")
    _say(f"  {key}\n", style="bold")
    if start.admin_key:
        _say("Operator (admin) key for /admin and the dashboard (shown once):\n")
        _say(f"  {start.admin_key}\n", style="bold")
    _say("Try it with curl:\n")
    _say(
        f"curl {base}/v1/chat/completions \\\n"
        f"  -H 'Authorization: Bearer {key}' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        f'  -d \'{{"model": "{model}", "messages": [{{"role": "user", '
        '"content": "Hello!"}]}\'\n'
    )
    _say("Or with the OpenAI Python SDK:\n")
    _say(
        "from openai import OpenAI\n"
        f'client = OpenAI(base_url="{base}/v1", api_key="{key}")\n'
        f'reply = client.chat.completions.create(model="{model}",\n'
        '    messages=[{"role": "user", "content": "Hello!"}])\n'
        "print(reply.choices[0].message.content)\n"
    )


def _either(names: Iterable[str]) -> str:
    """`A, B or C`."""
    *others, last = names
    return f"{', '.join(others)} or {last}" if others else last


_EXAMPLE_MODEL = "gpt-4o-mini"


def _example_model(settings: Settings, simulator_url: str | None) -> str:
    """The model the examples name: a small shipped one when its built-in provider is set up
    (the simulator serves them all); otherwise automatic routing, which picks among whatever
    is, so the example works however the gateway is configured."""
    family = shipped_family(_EXAMPLE_MODEL)
    served = {endpoint.kind for endpoint in builtin_endpoints(settings, simulator_url)}
    return _EXAMPLE_MODEL if family in served else AUTO_MODEL
