"""`bench.instructions`: the callgrind totals it reads, the command it runs the target under,
and its report (the measurement itself runs valgrind for minutes: not here)."""

from __future__ import annotations

from pathlib import Path

from bench.instructions import _report, _total
from bench.targets import Target


def test_the_total_is_read_from_the_dump_callgrind_writes(tmp_path: Path) -> None:
    out = tmp_path / "callgrind-routeplex-1.out"
    dump = tmp_path / "callgrind-routeplex-1.out.4242"  # callgrind may add the pid
    dump.write_text("version: 1\nevents: Ir\nsummary: 0\nfn=x\n1 5\ntotals: 1234567\n")
    assert _total(out) == 1234567


def test_the_target_runs_under_the_command_after_its_pinning(tmp_path: Path) -> None:
    target = Target()
    target.under = ("echo", "under")
    target.spawn(["routeplex", "serve"], {}, tmp_path, tmp_path)
    assert target.proc is not None
    target.proc.wait(10)
    assert target.log_path is not None
    assert target.log_path.read_text().strip() == "under routeplex serve"


def test_the_report_gives_the_ratio_of_the_means() -> None:
    results = {
        ("plain", None): {"routeplex": [1_000.0, 1_020.0], "routeplex-before": [1_000.0]},
        ("stream", 20): {"routeplex": [2_000.0], "routeplex-before": [2_100.0]},
    }
    report = _report(results, "now", "then", 1000)
    assert "| plain | 1,010 | 1,000 | **1.010** |" in report
    assert "| stream, 20 chunks | 2,000 | 2,100 | **0.952** |" in report
