"""RoutePlex now against RoutePlex at an earlier commit, in instructions per request: the
comparison a shared machine's noise does not move.

    .venv/bin/python -m bench.instructions                    # against 11c9050
    .venv/bin/python -m bench.instructions --before REF --requests 2000 --chunks 5,20

CPU time per request moves with whatever else the machine runs (on this 2-core VM, other
processes moved `bench.run --compare-before`'s after/before ratio by ±8% between rounds).
Here each side runs `routeplex serve` under callgrind (valgrind), which counts the
instructions the process executes, every thread included; the count is the same whatever
else the machine does (two runs of one build agree within 1%). Instrumentation is on only
while a fixed number of requests is served at 16 concurrent, after a warm-up, and until the
metadata recorder has written their rows; the count divided by the requests is the figure.
Both sides are built alike (`bench.before`), launched with one hash seed, and pointed at the
same mock upstream. Streams are measured at several chunk counts, so the figure splits into
a per-request part and a per-chunk part.

Instructions are not seconds: a cache miss or a syscall costs time the count does not show.
Use it beside `bench.run --compare-before`, not instead of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from bench.before import DEFAULT_BEFORE, RoutePlexAfter, RoutePlexBefore
from bench.loadgen import chat_body
from bench.scenarios import Mock, Scenario
from bench.targets import WORK, RoutePlex, harness_lock

WARM_UP = 400  # requests before counting: caches, pools and the JIT-free interpreter settle
CONCURRENCY = 16


async def _serve(url: str, headers: dict[str, str], body: bytes, count: int) -> None:
    """`count` requests, CONCURRENCY at a time; each answer read whole and its status checked."""
    left = count
    async with aiohttp.ClientSession(headers=headers) as session:

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                async with session.post(url, data=body) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{url} answered {response.status}")

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def _callgrind(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def _total(out: Path) -> int:
    """The instruction count callgrind wrote at exit: its dump's `totals:` line (its
    `summary:` line counts only from the last zeroing, 0 when instrumentation was toggled)."""
    counts = [
        int(line.split()[1])
        for dump in sorted(out.parent.glob(out.name + "*"))
        for line in dump.read_text(errors="replace").splitlines()
        if line.startswith(("totals:", "summary:"))
    ]
    if not counts:
        raise RuntimeError(f"no callgrind totals in {out}")
    return max(counts)


def measure(target: RoutePlex, mock: Mock, workdir: Path, stream: bool, requests: int) -> float:
    """Instructions per request of one fresh `routeplex serve` of `target`."""
    out = workdir / f"callgrind-{target.name}-{target.launches + 1}.out"
    target.under = (
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
    )
    endpoint = target.launch(mock.api_base, workdir)
    headers = {**endpoint.headers, "Content-Type": "application/json"}
    body = chat_body(stream=stream)
    try:
        asyncio.run(_serve(endpoint.url, headers, body, WARM_UP))
        time.sleep(1.0)  # the warm-up's metadata written before counting starts
        _callgrind(target.pid, "-i", "on")
        asyncio.run(_serve(endpoint.url, headers, body, requests))
        time.sleep(1.0)  # and these requests' rows, which are part of their cost
        _callgrind(target.pid, "-i", "off")
    finally:
        target.stop()
    return _total(out) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="the earlier commit")
    parser.add_argument("--requests", type=int, default=1000, help="counted per measurement")
    parser.add_argument("--chunks", default="5,20", help="stream lengths to measure")
    parser.add_argument("--repeat", type=int, default=2, help="launches per cell")
    args = parser.parse_args()
    chunk_counts = [int(n) for n in args.chunks.split(",") if n]
    run_dir = WORK / "runs" / time.strftime("instructions-%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True)
    after, before = RoutePlexAfter(), RoutePlexBefore(args.before)
    with harness_lock():
        for target in (after, before):
            target.prepare(install=True)
        mock = Mock(run_dir / "mock.log")
        cells: list[tuple[str, int | None]] = [("plain", None)]
        cells += [("stream", n) for n in chunk_counts]
        results: dict[tuple[str, int | None], dict[str, list[float]]] = {}
        try:
            for kind, chunks in cells:
                mock.configure(Scenario("count", "", kind == "stream", CONCURRENCY, chunks or 20))
                for _ in range(args.repeat):
                    for target in (after, before):  # interleaved, so any drift falls on both
                        figure = measure(target, mock, run_dir, kind == "stream", args.requests)
                        results.setdefault((kind, chunks), {}).setdefault(target.name, [])
                        results[(kind, chunks)][target.name].append(figure)
                        print(f"   {kind} {chunks or ''} {target.name}: {figure:,.0f}", flush=True)
        finally:
            mock.stop()
    print(_report(results, after.label, before.label, args.requests))
    (run_dir / "results.json").write_text(
        json.dumps({f"{k}-{c or 0}": v for (k, c), v in results.items()}, indent=1)
    )


def _report(
    results: dict[tuple[str, int | None], dict[str, list[float]]],
    after: str,
    before: str,
    requests: int,
) -> str:
    lines = [
        f"Instructions per request (callgrind, {requests} requests at {CONCURRENCY} concurrent "
        "per launch, mean of launches)",
        "",
        f"| scenario | {after} | {before} | after/before |",
        "|---|---|---|---|",
    ]
    for (kind, chunks), sides in results.items():
        now = sum(sides["routeplex"]) / len(sides["routeplex"])
        then = sum(sides["routeplex-before"]) / len(sides["routeplex-before"])
        name = f"{kind}, {chunks} chunks" if chunks else kind
        lines.append(f"| {name} | {now:,.0f} | {then:,.0f} | **{now / then:.3f}** |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
