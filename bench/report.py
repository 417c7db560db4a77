"""Turning measured cells into the one results table, the ratios, the issue's targets checked,
and a description of the machine — as Markdown, which reads fine in a terminal too.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOISY_PCT = 40.0


@dataclass
class Cell:
    """One target × scenario measurement."""

    scenario: str
    target: str
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    ttfb_p50_ms: float | None
    ttfb_p99_ms: float | None
    requests: int
    errors: int
    cpu_ms_per_req: float | None
    peak_rss_mb: float
    harness_core_pct: float  # mock + load generator CPU on the harness core, % of the window
    foreign_pct: float = 0.0  # CPU used by other processes on the machine, % of one core
    error_kinds: dict[str, int] = field(default_factory=dict)
    round: int = 1  # which pass over the scenarios, when a run makes several (`--rounds`)
    # CPU ms/request of each slice, in order, when the window was sliced (`--slices`).
    slice_cpu_ms: list[float | None] = field(default_factory=list)

    @property
    def noisy(self) -> bool:
        return self.foreign_pct > NOISY_PCT

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _delta(a: float | None, b: float | None, digits: int = 2) -> str:
    if a is None or b is None:
        return "–"
    return f"{a - b:+,.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "–"
    return f"{a / b:,.2f}×"


def find(cells: list[Cell], scenario: str, target: str, in_round: int | None = None) -> Cell | None:
    """The first cell of `target` on `scenario` (of that round, if one is named)."""
    for cell in cells:
        same_round = in_round is None or cell.round == in_round
        if cell.scenario == scenario and cell.target == target and same_round:
            return cell
    return None


def table(cells: list[Cell], scenarios: dict[str, str]) -> str:
    """The one table; ratios of requests/s sit on the RoutePlex rows."""
    head = (
        "| scenario | target | req/s | p50 ms | p99 ms | +p50 ms | +p99 ms | TTFB p50 ms "
        "| CPU ms/req | peak RSS MB | errors | harness core | RP/LiteLLM | RP/Portkey | RP/direct |"
    )
    lines = [head, _separator(head)]
    rounds = max((c.round for c in cells), default=1)
    for scenario, label in scenarios.items():
        for cell in (c for c in cells if c.scenario == scenario):
            direct = find(cells, scenario, "direct", cell.round) or find(cells, scenario, "direct")
            ratios = ["", "", ""]
            if cell.target.startswith("routeplex"):
                others = [find(cells, scenario, t) for t in ("litellm", "portkey", "direct")]
                ratios = [_ratio(cell.rps, o.rps if o else None) for o in others]
            over = direct if direct is not None and cell.target != "direct" else None
            lines.append(
                "| "
                + " | ".join(
                    [
                        label,
                        cell.target + (f" (round {cell.round})" if rounds > 1 else ""),
                        _num(cell.rps) + (" *" if cell.noisy else ""),
                        _num(cell.p50_ms, 2),
                        _num(cell.p99_ms, 2),
                        _delta(cell.p50_ms, over.p50_ms) if over else "",
                        _delta(cell.p99_ms, over.p99_ms) if over else "",
                        _num(cell.ttfb_p50_ms, 2),
                        _num(cell.cpu_ms_per_req, 2),
                        _num(cell.peak_rss_mb, 0),
                        str(cell.errors),
                        f"{cell.harness_core_pct:.0f}%",
                        *ratios,
                    ]
                )
                + " |"
            )
    return "\n".join(lines)


def _separator(head: str) -> str:
    return "|" + "---|" * (head.count("|") - 1)


def checks(cells: list[Cell]) -> list[tuple[bool | None, str]]:
    """The issue's targets for RoutePlex, each with pass / fail / not measured."""
    out: list[tuple[bool | None, str]] = []

    def get(scenario: str, target: str) -> Cell | None:
        return find(cells, scenario, target)

    def rps_check(scenario: str, floor: float, times: float, what: str) -> None:
        rp, ll = get(scenario, "routeplex"), get(scenario, "litellm")
        if rp is None:
            out.append((None, f"{what}: not measured"))
            return
        out.append((rp.rps >= floor, f"{what} ≥ {floor:,.0f} req/s: {rp.rps:,.0f}"))
        if ll is None or not ll.rps:
            out.append((None, f"{what} ≥ {times:.0f}× LiteLLM: LiteLLM not measured"))
        else:
            ratio = rp.rps / ll.rps
            out.append((ratio >= times, f"{what} ≥ {times:.0f}× LiteLLM: {ratio:.1f}×"))

    rps_check("plain-16", 1000, 15, "non-streaming @16")
    rps_check("stream-16", 600, 25, "streaming 20 chunks @16")
    rp, direct = get("plain-1", "routeplex"), get("plain-1", "direct")
    if rp and direct and None not in (rp.p50_ms, rp.p99_ms, direct.p50_ms, direct.p99_ms):
        d50 = rp.p50_ms - direct.p50_ms  # type: ignore[operator]
        d99 = rp.p99_ms - direct.p99_ms  # type: ignore[operator]
        out.append((d50 <= 1.0, f"overhead @1 p50 ≤ 1 ms: {d50:.2f} ms"))
        out.append((d99 <= 3.0, f"overhead @1 p99 ≤ 3 ms: {d99:.2f} ms"))
    else:
        out.append((None, "overhead @1: not measured (needs routeplex and direct)"))
    if rp and rp.cpu_ms_per_req is not None:
        cpu = rp.cpu_ms_per_req
        out.append((cpu <= 1.0, f"CPU ≤ 1 ms per non-streaming request (@1): {cpu:.2f} ms"))
    rp, direct = get("paced-256", "routeplex"), get("paced-256", "direct")
    if rp and direct and rp.p99_ms is not None and direct.p99_ms is not None:
        share = rp.rps / direct.rps if direct.rps else 0.0
        out.append((share >= 0.95, f"paced 256 streams within 5% of direct: {share:.1%}"))
        d99 = rp.p99_ms - direct.p99_ms
        out.append((d99 <= 10.0, f"paced 256 streams p99 overhead ≤ 10 ms: {d99:.1f} ms"))
    else:
        out.append((None, "paced 256 streams: not measured (needs routeplex and direct)"))
    rss = [c.peak_rss_mb for c in cells if c.target == "routeplex"]
    if rss:
        out.append((max(rss) <= 120, f"peak RSS under load ≤ 120 MB: {max(rss):.0f} MB"))
    return out


def render_checks(items: list[tuple[bool | None, str]]) -> str:
    marks = {True: "PASS", False: "MISS", None: "n/a "}
    return "\n".join(f"- **{marks[ok]}** {text}" for ok, text in items)


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def machine() -> dict[str, str]:
    lscpu = _run(["lscpu"])
    model = re.search(r"Model name:\s*(.+)", lscpu)
    mem = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
    return {
        "cpu": model.group(1).strip() if model else platform.processor(),
        "cores": str(os.cpu_count()),
        "memory": f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else "?",
        "kernel": platform.release(),
        "os": _run(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "python": platform.python_version(),
        "node": _run(["node", "--version"]),
    }


def render_machine(info: dict[str, str], versions: dict[str, str]) -> str:
    lines = [f"- {key}: {value}" for key, value in info.items()]
    lines += [f"- {name}: {version}" for name, version in versions.items()]
    return "\n".join(lines)
