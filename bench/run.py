"""The benchmark: one command runs the whole matrix and prints one table.

    .venv/bin/python -m bench.run                 # full matrix, every target (≈ 10 min idle)
    .venv/bin/python -m bench.run --quick         # smoke run, short cells
    .venv/bin/python -m bench.run --targets direct,routeplex --scenarios plain-1,plain-16
    .venv/bin/python -m bench.run --soak 600      # RoutePlex RSS curve under 10 minutes of load
    .venv/bin/python -m bench.run --soak 600 --soak-target routeplex-pg   # …on PostgreSQL + Redis
    .venv/bin/python -m bench.run --compare-before 11c9050   # now against an earlier commit

It starts the mock upstream (bench/mock_upstream.py) and runs this process — the load
generator — pinned to core 1, and each target pinned to core 0, one target at a time: `direct`
(the mock alone: the limit), RoutePlex, Portkey's gateway and LiteLLM's proxy. Every scenario
runs against every target in the same run, so overheads over `direct` are same-run numbers.
Per cell: requests/s, latency p50/p99, overhead over direct, time to first byte, the target's
CPU ms per request (utime + stime of its process tree over the window) and its peak RSS.
LiteLLM and Portkey are installed under bench/.work/ on first use (see bench/peers.py).

`--compare-before REF` measures RoutePlex against itself at an earlier commit (built under
bench/.work/ on first use: bench/before.py) on the chat scenarios and the other surfaces'
(Anthropic's Messages, chat to Claude, OpenAI's Responses and embeddings; each where the
earlier build serves it), both targets running at once and their cells
interleaved, in rounds that reverse the order, and ends with the comparison's tables
(bench/comparison.py).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py` as well as `python -m bench.run`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import comparison, report, soak
from bench.before import DEFAULT_BEFORE
from bench.measure import measure, measure_sliced, print_cell, wait_for_quiet
from bench.scenarios import (
    ALL_TARGETS,
    DEFAULT_SCENARIOS,
    SCENARIOS,
    Mock,
    Scenario,
    validate,
    validate_surfaces,
)
from bench.targets import (
    HARNESS_CORE,
    WORK,
    RoutePlex,
    Target,
    harness_lock,
    make_targets,
    pinning,
)


async def start(
    target: Target, args: argparse.Namespace, mock: Mock, run_dir: Path, notes: list[str]
) -> bool:
    """Install (if need be), launch and check `target`; False, with a note, if it cannot run."""
    print(f"\n== {target.label}", flush=True)
    try:
        target.prepare(install=not args.no_install)
        endpoint = target.launch(mock.api_base, run_dir)
        target.endpoints["openai"] = endpoint
        await validate(endpoint, mock)
        await validate_surfaces(target, mock, [SCENARIOS[n] for n in args.scenarios])
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"   skipped: {exc}", flush=True)
        notes.append(f"{target.label} was not measured: {exc}")
        target.stop()
        return False
    return True


async def cell(
    target: Target, scenario: Scenario, mock: Mock, args: argparse.Namespace, round_: int
) -> report.Cell:
    await wait_for_quiet(args.quiet_pct, args.quiet_wait)
    measured = await measure(target, scenario, mock, args.duration, args.warmup, round_)
    print_cell(target, scenario, measured, args.interleave)
    return measured


def finish(target: Target, rows: dict[str, dict[str, int]]) -> None:
    """Stop `target`; add the metadata rows it recorded (by HTTP status) to its label's."""
    target.stop()
    if isinstance(target, RoutePlex):
        mine = rows.setdefault(target.label, {})
        for status, count in target.metadata_rows().items():
            mine[status] = mine.get(status, 0) + count


def row_notes(rows: dict[str, dict[str, int]]) -> list[str]:
    return [
        f"{label} recorded {sum(by.values()):,} request-metadata rows in SQLite (by HTTP "
        f"status: {by}) for this run's requests, warm-ups and checks included."
        for label, by in rows.items()
    ]


def same_shape(scenarios: list[Scenario]) -> list[list[Scenario]]:
    """The scenarios grouped by shape: each chat scenario with the other surfaces' scenarios
    whose baseline it is, in the order given."""
    groups: dict[str, list[Scenario]] = {}
    for scenario in scenarios:
        groups.setdefault(scenario.baseline or scenario.name, []).append(scenario)
    return list(groups.values())


async def run_matrix(args: argparse.Namespace, run_dir: Path) -> dict[str, object]:
    """Target after target (each launched, measured on every scenario, stopped), or with
    `--interleave` every target at once and the cells interleaved."""
    scenarios = [SCENARIOS[name] for name in args.scenarios]
    mock = Mock(run_dir / "mock.log")
    cells: list[report.Cell] = []
    versions: dict[str, str] = {}
    notes: list[str] = []
    rows: dict[str, dict[str, int]] = {}
    targets = make_targets(args.targets, mock.proc.pid, args.before, args.same_build)
    try:
        if args.interleave:
            live = []
            for target in targets:
                if await start(target, args, mock, run_dir, notes):
                    versions[target.label] = target.version()
                    live.append(target)
            try:
                for round_ in range(1, args.rounds + 1):
                    if round_ > 1 and args.relaunch:
                        # Fresh processes each round: what one launch happens to cost more or
                        # less for its whole life shows as rounds that disagree.
                        for target in live:
                            finish(target, rows)
                        live = [t for t in live if await start(t, args, mock, run_dir, notes)]
                    print(f"\n== round {round_} of {args.rounds}", flush=True)
                    # Reversed every other round, so neither target is always measured first.
                    order = live if round_ % 2 else live[::-1]
                    for group in same_shape(scenarios):
                        # Every target on every scenario of one shape, sliced together: the
                        # ratios between them (before/after, surface/chat) see the same load.
                        arms = [
                            (t, s) for s in group for t in order if s.surface.name in t.surfaces
                        ]
                        if not arms:
                            continue
                        await wait_for_quiet(args.quiet_pct, args.quiet_wait)
                        measured = await measure_sliced(arms, mock, args, round_)
                        for (target, scenario), one in zip(arms, measured, strict=True):
                            print_cell(target, scenario, one, named=True)
                        cells += measured
            finally:
                for target in live:
                    finish(target, rows)
        else:
            for target in targets:
                if not await start(target, args, mock, run_dir, notes):
                    continue
                versions[target.label] = target.version()
                try:
                    for scenario in scenarios:
                        if scenario.surface.name in target.surfaces:
                            cells.append(await cell(target, scenario, mock, args, 1))
                finally:
                    finish(target, rows)
    finally:
        for target in targets:
            target.stop()
        mock.stop()
    return {"cells": cells, "versions": versions, "notes": notes + row_notes(rows)}


def render(args: argparse.Namespace, outcome: dict[str, object], command: str) -> str:
    cells: list[report.Cell] = outcome["cells"]  # type: ignore[assignment]
    labels = {name: SCENARIOS[name].label for name in args.scenarios}
    how = f"{args.duration:g} s measured per cell after {args.warmup:g} s of warm-up"
    if args.interleave:
        how += (
            f"; every target running at once, each cell cut into {args.slices} slice(s) "
            "alternating between the targets and the scenarios of the same shape "
            f"({args.slice_warmup:g} s warm-up each after the first), {args.rounds} round(s)"
            + (", the targets relaunched for each" if args.relaunch else "")
        )
    load = [c.foreign_pct for c in cells]
    if load:
        how += (
            f". Other processes on the machine during the measured windows: mean "
            f"{sum(load) / len(load):.0f}% of a core (from {min(load):.0f}% to {max(load):.0f}%)"
        )
    parts = [
        f"### Run of {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"Command: `{command}` — {how}.",
        "#### Machine and versions",
        report.render_machine(report.machine(), outcome["versions"]),  # type: ignore[arg-type]
        "#### Results",
        report.table(cells, labels),
    ]
    if args.compare_before is None:  # the targets need direct and the peers
        parts += [
            "#### RoutePlex against the issue's targets",
            report.render_checks(report.checks(cells)),
        ]
    if any(c.target == comparison.BEFORE for c in cells):
        ref = args.before
        parts += [
            f"#### RoutePlex now against RoutePlex at {ref}: CPU ms per request",
            comparison.before_after(cells, args.scenarios, ref),
        ]
    others = {n: (SCENARIOS[n].surface.name, SCENARIOS[n].baseline) for n in args.scenarios}
    if any(baseline for _, baseline in others.values()):
        parts += [
            "#### The other surfaces over OpenAI chat of the same shape",
            comparison.surface_overhead(cells, others),
        ]
    notes: list[str] = outcome["notes"]  # type: ignore[assignment]
    noisy = [f"{c.target} / {c.scenario} ({c.foreign_pct:.0f}%)" for c in cells if c.noisy]
    if noisy:
        notes.append(
            "Cells marked * had other processes busy on the machine for more than "
            f"{report.NOISY_PCT:.0f}% of a core during their window: " + ", ".join(noisy)
        )
    errors = [f"{c.target} / {c.scenario}: {c.error_kinds}" for c in cells if c.errors]
    if errors:
        notes.append("Errors by kind: " + "; ".join(errors))
    if notes:
        parts += ["#### Notes", "\n".join(f"- {n}" for n in notes)]
    return "\n\n".join(parts) + "\n"


OTHERS = [n for n in SCENARIOS if n not in DEFAULT_SCENARIOS]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="RoutePlex benchmark harness")
    parser.add_argument("--targets", help=f"default: {','.join(ALL_TARGETS)}")
    parser.add_argument(
        "--scenarios",
        help=f"default: {','.join(DEFAULT_SCENARIOS)}; `all` adds {','.join(OTHERS)}",
    )
    parser.add_argument(
        "--compare-before",
        nargs="?",
        const=DEFAULT_BEFORE,
        metavar="REF",
        help=f"RoutePlex against itself at REF (default {DEFAULT_BEFORE}): targets routeplex "
        "and routeplex-before, every scenario, interleaved in slices, 4 rounds of 12 s cells, "
        "fresh processes each round",
    )
    parser.add_argument(
        "--before",
        default=DEFAULT_BEFORE,
        metavar="REF",
        help="the commit the routeplex-before target is built from",
    )
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="run every target at once and interleave their cells (by scenario shape)",
    )
    parser.add_argument(
        "--rounds", type=int, help="with --interleave: passes over the scenarios (default 1)"
    )
    parser.add_argument(
        "--same-build",
        action=argparse.BooleanOptionalAction,
        help="run routeplex from a runtime-lock venv built like routeplex-before's, not the "
        "project venv (compare: on)",
    )
    parser.add_argument(
        "--relaunch",
        action=argparse.BooleanOptionalAction,
        help="with --interleave: fresh target processes every round (compare: on)",
    )
    parser.add_argument(
        "--slices",
        type=int,
        help="with --interleave: each cell's window cut into this many slices, alternating "
        "between the targets and the scenarios of one shape (default 1; compare: 6)",
    )
    parser.add_argument(
        "--slice-warmup",
        type=float,
        default=1.0,
        help="warm-up seconds of every slice but a target's first in a cell",
    )
    parser.add_argument("--duration", type=float, help="measured seconds per cell (default 10)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per cell")
    parser.add_argument("--quick", action="store_true", help="2 s cells, 1 s warm-up")
    parser.add_argument("--no-install", action="store_true", help="skip missing targets")
    parser.add_argument("--output", type=Path, help="write the Markdown section here too")
    parser.add_argument(
        "--quiet-pct",
        type=float,
        default=35.0,
        help="before each cell, wait for the idle machine to be below this %% of a core busy",
    )
    parser.add_argument(
        "--quiet-wait", type=float, help="…for at most this long (default 60 s; compare: 20 s)"
    )
    parser.add_argument("--soak", type=float, metavar="SECONDS", help="RoutePlex soak mode")
    parser.add_argument("--soak-interval", type=float, default=5.0, metavar="SECONDS")
    parser.add_argument(
        "--soak-target",
        default="routeplex",
        choices=["routeplex", "routeplex-pg"],
        help="routeplex-pg: metadata in PostgreSQL (BENCH_POSTGRES_URL), limits in Redis",
    )
    args = parser.parse_args(argv)
    compare = args.compare_before is not None
    if compare:
        args.before = args.compare_before
        args.interleave = True
    targets = args.targets or ("routeplex,routeplex-before" if compare else ",".join(ALL_TARGETS))
    args.targets = [t.strip() for t in targets.split(",") if t.strip()]
    scenarios = args.scenarios or ("all" if compare else ",".join(DEFAULT_SCENARIOS))
    if scenarios == "all":
        scenarios = ",".join(SCENARIOS)
    args.scenarios = [s.strip() for s in scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    if args.rounds is None:
        args.rounds = 4 if compare else 1
    if args.relaunch is None:
        args.relaunch = compare
    if args.same_build is None:
        args.same_build = compare
    if args.slices is None:
        args.slices = 6 if compare else 1
    if (args.rounds > 1 or args.slices > 1) and not args.interleave:
        parser.error("--rounds and --slices need --interleave (or --compare-before)")
    if args.duration is None:
        args.duration = 12.0 if compare else 10.0
    if args.quiet_wait is None:
        args.quiet_wait = 20.0 if compare else 60.0
    if args.quick:
        args.duration, args.warmup = 2.0, 1.0
    return args


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # Unwinds through the `finally` blocks that stop the targets and the mock.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    command = "python -m bench.run " + " ".join(sys.argv[1:] if argv is None else argv)
    if pinning():
        os.sched_setaffinity(0, {HARNESS_CORE})
    else:
        print("warning: fewer than 2 cores or no taskset; nothing is pinned", file=sys.stderr)
    run_dir = WORK / "runs" / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    import uvloop

    with harness_lock():
        if args.soak:
            text = uvloop.run(
                soak.run_soak(args.soak, args.soak_interval, run_dir, command, args.soak_target)
            )
        else:
            outcome = uvloop.run(run_matrix(args, run_dir))
            text = render(args, outcome, command.strip())
            cells: list[report.Cell] = outcome["cells"]  # type: ignore[assignment]
            dump = json.dumps([c.as_dict() for c in cells], indent=2)
            (run_dir / "cells.json").write_text(dump)
    print("\n" + text)
    (run_dir / "results.md").write_text(text)
    if args.output:
        args.output.write_text(text)
    print(f"(written to {run_dir / 'results.md'})")


if __name__ == "__main__":
    main()
