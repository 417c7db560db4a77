"""CPU time and resident memory of a process tree, read from /proc (Linux only).

A target is measured as the whole tree under the pid the harness started (LiteLLM and a
`bash -c` wrapper both put the real server one level down): CPU is the sum of utime + stime
over the tree, memory the sum of VmRSS. Reading /proc costs the harness a few hundred
microseconds, so the tree is re-listed only when asked.
"""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may contain spaces)."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def tree_pids(root: int) -> list[int]:
    """`root` and every live descendant."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid != root and pid in found:
            continue
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by `pids` (all their threads)."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


def rss_bytes(pids: list[int]) -> int:
    """Resident memory of `pids`, summed."""
    total = 0
    for pid in pids:
        try:
            resident = (_PROC / str(pid) / "statm").read_text().split()[1]
        except (OSError, IndexError):
            continue
        total += int(resident) * PAGE_SIZE
    return total


class TreeProbe:
    """Samples one process tree: CPU at chosen moments, RSS continuously with a peak."""

    def __init__(self, root: int, relist_every: int = 8) -> None:
        self.root = root
        self.pids = tree_pids(root)
        self.peak_rss = 0
        self._relist_every = relist_every
        self._samples = 0

    def relist(self) -> None:
        self.pids = tree_pids(self.root)

    def cpu(self) -> float:
        self.relist()
        return cpu_seconds(self.pids)

    def rss(self) -> int:
        self._samples += 1
        if self._samples % self._relist_every == 0:
            self.relist()
        value = rss_bytes(self.pids)
        self.peak_rss = max(self.peak_rss, value)
        return value

    def reset_peak(self) -> None:
        self.peak_rss = 0


def busy_seconds() -> float:
    """CPU seconds spent busy (not idle or waiting on I/O) by the whole machine so far."""
    with (_PROC / "stat").open() as fh:
        fields = fh.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS
