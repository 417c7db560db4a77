"""`routeplex serve` as a real process for tests: start it, read its first-run banner."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROUTEPLEX = str(Path(sys.executable).with_name("routeplex"))
_KEY = re.compile(r"rp_live_[A-Za-z0-9_-]{40,}")
_BANNER_END = "print(reply"  # the last line of the printed SDK example


def launch(
    args: list[str],
    env: dict[str, str],
    *,
    timeout: float = 30,
    cwd: Path | None = None,
    until: str = _BANNER_END,
) -> tuple[subprocess.Popen[str], str]:
    """Start `routeplex serve ARGS`; return the process and its output up to the line that
    holds `until` (by default the first-run banner's end)."""
    process = subprocess.Popen(
        [ROUTEPLEX, "serve", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = ""
    deadline = time.monotonic() + timeout
    while until not in output and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output += line
    return process, output


def demo_key(output: str) -> str:
    """The API key the first-run banner printed once."""
    match = _KEY.search(output)
    assert match, output
    return match.group(0)
