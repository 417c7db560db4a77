"""Soak mode: RoutePlex under steady mixed load (non-streaming and 20-chunk streams
alternating on 16 connections) for a long time, its RSS sampled every few seconds, to show
whether memory settles or grows.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.loadgen import Progress, run_load
from bench.procstat import TreeProbe
from bench.report import machine, render_machine
from bench.scenarios import Mock, Scenario, specs, validate
from bench.targets import RoutePlex, RoutePlexPostgres

_BARS = " ▁▂▃▄▅▆▇█"
CONCURRENCY = 16
SOAK_TARGETS: dict[str, type[RoutePlex]] = {
    RoutePlex.name: RoutePlex,
    RoutePlexPostgres.name: RoutePlexPostgres,
}


def sparkline(values: list[float]) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(_BARS[1 + int((v - low) / span * (len(_BARS) - 2))] for v in values)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


async def run_soak(
    seconds: float, interval: float, run_dir: Path, command: str, target_name: str = "routeplex"
) -> str:
    mock = Mock(run_dir / "mock.log")
    target = SOAK_TARGETS[target_name]()
    samples: list[tuple[float, float, int, int]] = []  # (t, RSS MB, completed, errors)
    try:
        target.prepare(install=False)
        endpoint = target.launch(mock.api_base, run_dir)
        await validate(endpoint, mock)
        mock.configure(Scenario("soak", "", True, CONCURRENCY, chunks=20))
        mix = specs(endpoint, False) + specs(endpoint, True)
        probe = TreeProbe(target.pid)
        progress = Progress()
        started = time.perf_counter()

        def sample() -> None:
            t = time.perf_counter() - started
            rss = probe.rss() / 2**20
            samples.append((t, rss, progress.completed, progress.errors))
            done = progress.completed
            print(f"   t={t:7.1f} s  RSS {rss:6.1f} MB  requests {done:>9,}", flush=True)

        result = await run_load(
            endpoint.url,
            mix,
            concurrency=CONCURRENCY,
            duration_s=seconds,
            warmup_s=0.0,
            timeout_s=60,
            on_tick=sample,
            tick_s=interval,
            progress=progress,
        )
        sample()
    finally:
        target.stop()
        mock.stop()
    try:
        rows = target.metadata_rows()
    finally:
        target.drop()
    return render(samples, result.rps, result.errors, rows, seconds, interval, command, target)


def render(
    samples: list[tuple[float, float, int, int]],
    rps: float,
    errors: int,
    rows: dict[str, int],
    seconds: float,
    interval: float,
    command: str,
    target: RoutePlex,
) -> str:
    rss = [s[1] for s in samples]
    early = [s[1] for s in samples if 60 <= s[0] < 120] or rss[: max(1, len(rss) // 5)]
    late = [s[1] for s in samples if s[0] >= samples[-1][0] - 60] or rss[-max(1, len(rss) // 5) :]
    growth = _median(late) - _median(early)
    lines = [
        f"### Soak of {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"Command: `{command.strip()}` — {target.label} pinned to core 0, {CONCURRENCY} "
        "connections "
        f"alternating non-streaming and 20-chunk streaming requests for {seconds:g} s, RSS "
        f"sampled every {interval:g} s.",
        render_machine(machine(), {"RoutePlex": target.version()}),
        f"- throughput {rps:,.0f} req/s, {errors} errors, "
        f"{sum(rows.values()):,} metadata rows recorded",
        f"- RSS: start {rss[0]:.1f} MB, peak {max(rss):.1f} MB, end {rss[-1]:.1f} MB; "
        f"median of the last minute minus median of the second minute: {growth:+.1f} MB",
        f"- curve: `{sparkline(rss)}` ({min(rss):.1f}–{max(rss):.1f} MB)",
        "",
        "| t (s) | RSS MB | requests | req/s in interval |",
        "|---|---|---|---|",
    ]
    step = max(1, len(samples) // 40)
    previous = (0.0, 0)
    for i, (t, mb, done, _) in enumerate(samples):
        if i % step and i != len(samples) - 1:
            continue
        span = t - previous[0]
        rate = (done - previous[1]) / span if span > 0 else 0.0
        lines.append(f"| {t:.0f} | {mb:.1f} | {done:,} | {rate:,.0f} |")
        previous = (t, done)
    return "\n".join(lines) + "\n"
