"""Measuring one cell: a closed loop against a target for a window, with the target's CPU
time and peak memory, the harness's own CPU and how busy everything else on the machine was
meanwhile — once per cell, or in slices alternating between several cells (targets, and
scenarios of one shape: `measure_sliced`) so that the rest of the machine's load falls on
each of them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from dataclasses import dataclass

from bench import report
from bench.loadgen import LoadResult, percentile, run_load
from bench.procstat import TreeProbe, busy_seconds
from bench.scenarios import Mock, Scenario, scenario_specs
from bench.targets import Target


async def wait_for_quiet(threshold_pct: float, max_wait_s: float) -> float:
    """Wait (up to `max_wait_s`) for a second in which the machine, our processes idle, is
    less than `threshold_pct` % of a core busy; return the last second's load. On a shared
    machine this keeps other people's test runs out of the measurements where possible."""
    deadline = time.monotonic() + max_wait_s
    while True:
        before = busy_seconds()
        await asyncio.sleep(1.0)
        load = 100 * (busy_seconds() - before)
        if load < threshold_pct or time.monotonic() >= deadline:
            return load
        print(f"   (machine busy: {load:.0f}% of a core; waiting for it to settle)", flush=True)


@dataclass
class Sample:
    """One closed-loop window against one target, before it is summed into a cell."""

    result: LoadResult
    cpu_s: float  # the target's process tree
    harness_s: float  # the mock and the load generator
    foreign_s: float  # everything else on the machine
    peak_rss: int


async def sample(
    target: Target, scenario: Scenario, mock: Mock, duration: float, warmup: float
) -> Sample:
    mock.configure(scenario)
    probe = TreeProbe(target.pid)
    mock_probe = TreeProbe(mock.proc.pid)
    marks: dict[str, float] = {}

    def window_start() -> None:
        marks["cpu0"], marks["mock0"] = probe.cpu(), mock_probe.cpu()
        marks["all0"] = busy_seconds()

    def window_end() -> None:
        marks["cpu1"], marks["mock1"] = probe.cpu(), mock_probe.cpu()
        marks["all1"] = busy_seconds()

    result = await run_load(
        target.endpoints[scenario.surface.wire].url,
        scenario_specs(target, scenario),
        concurrency=scenario.concurrency,
        duration_s=duration,
        warmup_s=warmup,
        timeout_s=60,
        on_window_start=window_start,
        on_window_end=window_end,
        on_tick=probe.rss,
    )
    cpu = marks["cpu1"] - marks["cpu0"]
    harness = marks["mock1"] - marks["mock0"] + result.client_cpu_s
    if target.name == "direct":
        harness = result.client_cpu_s + cpu  # the mock is the target here
        ours = harness
    else:
        ours = cpu + harness
    # Anything else busy on the machine meanwhile (another user's tests, say) skews the cell.
    foreign = max(0.0, marks["all1"] - marks["all0"] - ours)
    return Sample(result, cpu, harness, foreign, probe.peak_rss)


def to_cell(target: Target, scenario: Scenario, samples: list[Sample], round_: int) -> report.Cell:
    """The samples of one target on one scenario, summed: requests and CPU time added up,
    latencies pooled."""
    latency = [ms for s in samples for ms in s.result.latency_ms]
    ttfb = [ms for s in samples for ms in s.result.ttfb_ms]
    seconds = sum(s.result.duration_s for s in samples)
    cpu = sum(s.cpu_s for s in samples)
    kinds: Counter[str] = Counter()
    for s in samples:
        kinds.update(s.result.error_kinds)
    return report.Cell(
        scenario=scenario.name,
        target=target.name,
        rps=len(latency) / seconds if seconds else 0.0,
        p50_ms=percentile(latency, 50),
        p99_ms=percentile(latency, 99),
        ttfb_p50_ms=percentile(ttfb, 50),
        ttfb_p99_ms=percentile(ttfb, 99),
        requests=len(latency),
        errors=sum(kinds.values()),
        cpu_ms_per_req=cpu * 1000 / len(latency) if latency else None,
        peak_rss_mb=max(s.peak_rss for s in samples) / 2**20,
        harness_core_pct=100 * sum(s.harness_s for s in samples) / seconds if seconds else 0.0,
        foreign_pct=100 * sum(s.foreign_s for s in samples) / seconds if seconds else 0.0,
        error_kinds=dict(kinds),
        round=round_,
        slice_cpu_ms=[
            s.cpu_s * 1000 / s.result.requests if s.result.requests else None for s in samples
        ],
    )


async def measure(
    target: Target,
    scenario: Scenario,
    mock: Mock,
    duration: float,
    warmup: float,
    round_: int = 1,
) -> report.Cell:
    one = await sample(target, scenario, mock, duration, warmup)
    return to_cell(target, scenario, [one], round_)


# One target on one scenario: what a cell measures.
Arm = tuple[Target, Scenario]


async def measure_sliced(
    arms: list[Arm], mock: Mock, args: argparse.Namespace, round_: int
) -> list[report.Cell]:
    """One cell per arm, its window cut into `args.slices` slices that alternate between the
    arms (1 2 3, 3 2 1, 1 2 3 …), so that whatever else the machine does meanwhile falls on
    all of them alike. An arm's first slice has the full warm-up, the others a short one."""
    samples: dict[tuple[str, str], list[Sample]] = {(t.name, s.name): [] for t, s in arms}
    slice_s = args.duration / args.slices
    for i in range(args.slices):
        for target, scenario in arms if i % 2 == 0 else arms[::-1]:
            taken = samples[target.name, scenario.name]
            warmup = args.warmup if not taken else args.slice_warmup
            taken.append(await sample(target, scenario, mock, slice_s, warmup))
    return [to_cell(t, s, samples[t.name, s.name], round_) for t, s in arms]


def print_cell(target: Target, scenario: Scenario, measured: report.Cell, named: bool) -> None:
    name = f"{target.name} " if named else ""
    print(
        f"   {name}{scenario.label:<46} {measured.rps:>9,.1f} req/s  p50 "
        f"{report._num(measured.p50_ms, 2):>8} ms  p99 {report._num(measured.p99_ms, 2):>8}"
        f" ms  cpu {report._num(measured.cpu_ms_per_req, 3)} ms/req  "
        f"rss {measured.peak_rss_mb:.0f} MB  errors {measured.errors}  "
        f"other load {measured.foreign_pct:.0f}%",
        flush=True,
    )
