"""Where RoutePlex spends its CPU: py-spy samples the pinned gateway under load and this
summarises the stacks (own time by function, inclusive time by function, time by library).

    .venv/bin/python -m bench.profile                      # plain-16 and stream-16, 8 s each
    .venv/bin/python -m bench.profile --scenarios plain-1 --seconds 5
    .venv/bin/python -m bench.profile --summarise bench/.work/runs/profile-…/profile-plain-16.txt

py-spy is installed into bench/.work/tools-venv on first use. It samples from the harness core
(`--nonblocking`, so the gateway is not paused), which costs the gateway little but not
nothing: use `bench.run` for the numbers and this for the shape.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loadgen import run_load
from bench.scenarios import SCENARIOS, Mock, specs, validate
from bench.targets import HARNESS_CORE, WORK, RoutePlex, harness_lock, pinning

TOOLS = WORK / "tools-venv"
PY_SPY_VERSION = "0.4.3"


def py_spy() -> Path:
    binary = TOOLS / "bin" / "py-spy"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS)], check=True)
        subprocess.run(
            [str(TOOLS / "bin" / "pip"), "install", "--quiet", f"py-spy=={PY_SPY_VERSION}"],
            check=True,
        )
    return binary


def _frame_name(frame: str) -> tuple[str, str]:
    """`func (path/file.py:12)` → (`func (file-ish path)`, library)."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/lib/python3", "src/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    path = path.removeprefix(".11/").removeprefix(".12/")
    library = path.split("/", 1)[0].removesuffix(".py") if "/" in path else path
    return f"{name} ({path})", library or "?"


# Stacks that anywhere involve these are charged to them: work the request does not need inline.
WHOLE_STACK_AREAS = [
    ("limits in-memory storage expiry (thread hops)", ("MemoryStorage.__expire_events",)),
    ("metadata recorder: SQLite writes, SQLAlchemy", ("aiosqlite", "sqlalchemy", "recorder.py")),
]
# Otherwise a sample goes to the innermost frame that belongs to one of these.
FRAME_AREAS = [
    ("pricing (genai_prices)", ("genai_prices", "metering/pricing.py")),
    ("limits reserve / settle", ("limits/", "routeplex_gateway/limits/")),
    ("upstream client (aiohttp)", ("aiohttp/",)),
    ("key authentication", ("routeplex_gateway/auth.py",)),
    ("uvicorn + httptools server", ("uvicorn/",)),
    ("Starlette", ("starlette/",)),
    ("RoutePlex request code", ("routeplex_gateway/",)),
    ("thread pool plumbing", ("concurrent/futures",)),
]


def area(stack: str) -> str:
    for name, markers in WHOLE_STACK_AREAS:
        if any(marker in stack for marker in markers):
            return name
    for frame in reversed(stack.split(";")):
        if "routeplex_gateway/cli.py" in frame:
            continue  # the bottom of every stack on the main thread
        for name, markers in FRAME_AREAS:
            if any(marker in frame for marker in markers):
                return name
    return "event loop (uvloop) and other"


def summarise(raw: Path, top: int = 20) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";") if " (" in f]
        if not frames:
            continue
        total += count
        own[frames[-1][0]] += count
        libraries[frames[-1][1]] += count
        areas[area(stack)] += count
        # Inclusive time only for RoutePlex's own functions: the frames above them (typer,
        # uvicorn, Starlette's middleware) are in every stack and say nothing.
        for name in {f[0] for f in frames if f[1] == "routeplex_gateway"}:
            inclusive[name] += count
    if not total:
        return "(no samples)"

    def rows(counter: Counter[str], limit: int = top) -> list[str]:
        return [f"| {100 * n / total:5.1f}% | `{name}` |" for name, n in counter.most_common(limit)]

    parts = [f"{total:,} samples (idle time excluded)", "", "By area (the stack a sample is in):"]
    parts += ["", "| share | area |", "|---|---|", *rows(areas), ""]
    parts += ["Own time, by library:", "", "| share | library |", "|---|---|", *rows(libraries, 12)]
    parts += ["", "Own time, by function:", "", "| share | function |", "|---|---|", *rows(own)]
    parts += ["", "Inclusive time, RoutePlex functions:", "", "| share | function |", "|---|---|"]
    parts += rows(inclusive)
    return "\n".join(parts)


async def profile(names: list[str], seconds: float, rate: int, run_dir: Path) -> str:
    spy = py_spy()
    mock = Mock(run_dir / "mock.log")
    target = RoutePlex()
    sections = []
    try:
        target.prepare(install=False)
        endpoint = target.launch(mock.api_base, run_dir)
        await validate(endpoint, mock)
        for name in names:
            scenario = SCENARIOS[name]
            mock.configure(scenario)
            raw = run_dir / f"profile-{name}.txt"
            prefix = ["taskset", "-c", str(HARNESS_CORE)] if pinning() else []
            cmd = [str(spy), "record", "--pid", str(target.pid), "--duration", f"{seconds:g}"]
            cmd += ["--rate", str(rate), "--format", "raw", "--nonblocking", "--output", str(raw)]
            requests = specs(endpoint, scenario.stream)
            unsampled = await run_load(
                endpoint.url,
                requests,
                concurrency=scenario.concurrency,
                duration_s=max(2.0, seconds / 2),
                warmup_s=1.0,
            )
            load = asyncio.ensure_future(
                run_load(
                    endpoint.url,
                    requests,
                    concurrency=scenario.concurrency,
                    duration_s=seconds + 1,
                    warmup_s=1.0,
                )
            )
            await asyncio.sleep(1.0)
            spy_proc = await asyncio.create_subprocess_exec(
                *prefix, *cmd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
            )
            _, err = await spy_proc.communicate()
            result = await load
            if spy_proc.returncode != 0 or not raw.exists():
                raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')[-500:]}")
            sections.append(
                f"#### {scenario.label}: {unsampled.rps:,.0f} req/s unsampled, "
                f"{result.rps:,.0f} req/s while sampled\n\n" + summarise(raw)
            )
    finally:
        target.stop()
        mock.stop()
    return f"### RoutePlex profile ({time.strftime('%Y-%m-%d %H:%M %Z')})\n\n" + "\n\n".join(
        sections
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="py-spy profile of RoutePlex under load")
    parser.add_argument("--scenarios", default="plain-16,stream-16")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--summarise", type=Path, metavar="RAW", help="only summarise a raw file")
    args = parser.parse_args()
    if args.summarise:
        print(summarise(args.summarise))
        return
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    if pinning():
        os.sched_setaffinity(0, {HARNESS_CORE})
    run_dir = WORK / "runs" / ("profile-" + time.strftime("%Y%m%d-%H%M%S"))
    run_dir.mkdir(parents=True, exist_ok=True)
    import uvloop

    with harness_lock():
        text = uvloop.run(profile(names, args.seconds, args.rate, run_dir))
    (run_dir / "profile.md").write_text(text + "\n")
    print(text)
    print(f"\n(written to {run_dir / 'profile.md'}; raw stacks beside it)")


if __name__ == "__main__":
    main()
