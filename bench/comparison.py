"""The two compact tables of a before/after run (`python -m bench.run --compare-before REF`):
RoutePlex now against RoutePlex at REF, scenario by scenario, in CPU ms per request; and what
the other surfaces (Anthropic's Messages; OpenAI chat to Claude; OpenAI's Responses and
embeddings) cost over OpenAI chat of the same shape.

CPU ms per request (the target's process CPU time over the window ÷ requests) is the figure
compared: on a shared two-core machine it moves far less with other people's load than
requests/s or latency do — but it still moves, and the VM's own speed wanders by tens of
percent from one minute to the next. So each ratio is also estimated from the slices
(`--slices`): a slice of one cell and the slice of the other taken next to it make a pair,
and the geometric mean of the pairs' ratios is given with its 95% confidence interval
(Student's t over the rounds' mean log ratios, each round a fresh launch of both targets;
over the slices when there are fewer than 3 rounds). The verdict on the 5% bar reads that
interval: within it when the whole interval is at most 1.05, over it when the whole interval
is above, and "can't tell" otherwise — more `--rounds` narrow it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import fmean, stdev

from bench.report import Cell, find

AFTER, BEFORE = "routeplex", "routeplex-before"
# The bar: the chat path's CPU per request within 5% of what it was.
TOLERANCE = 1.05
# The same model through OpenAI's chat, for each surface other than chat to GPT.
_SAME_MODEL = {"messages-gpt": "chat", "messages-claude": "chat-claude", "responses": "chat"}


# Two-sided 95% quantiles of Student's t by degrees of freedom; past the table, the normal's.
_T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}
_T95 |= {10: 2.23, 11: 2.20, 12: 2.18, 14: 2.14, 16: 2.12, 18: 2.10, 20: 2.09, 25: 2.06}
_T95 |= {30: 2.04, 40: 2.02, 60: 2.00}


def _t95(df: int) -> float:
    known = [k for k in _T95 if k <= df]
    return _T95[max(known)] if df <= 60 else 1.96


@dataclass(frozen=True)
class Ratio:
    """A ratio of CPU per request from paired slices, with its 95% confidence interval."""

    value: float
    low: float
    high: float
    pairs: int

    def text(self) -> str:
        return f"{self.value:.3f} ({self.low:.3f}–{self.high:.3f})"

    def verdict(self, bar: float = TOLERANCE) -> str:
        if self.high <= bar:
            return "yes"
        if self.low > bar:
            return "**no**"
        return "can't tell"


def paired(cells: list[Cell], refs: list[Cell | None]) -> Ratio | None:
    """cells ÷ refs from their slices: slice i of a cell against slice i of its reference
    of the same round (taken next to each other), averaged in logs within each round.

    With 3 rounds or more the interval is taken over the rounds' means: each round is a
    fresh launch of both targets (`--relaunch`), and a launch's own luck (memory layout)
    moves its cost by a few percent for its whole life, so slices of one launch are not
    independent of each other. With fewer rounds it is taken over the slices, which
    understates it."""
    by_round: list[list[float]] = []
    for cell, ref in zip(cells, refs, strict=True):
        if ref is None:
            continue
        logs = [
            math.log(a / b)
            for a, b in zip(cell.slice_cpu_ms, ref.slice_cpu_ms, strict=False)
            if a and b
        ]
        if logs:
            by_round.append(logs)
    units = (
        [fmean(logs) for logs in by_round]
        if len(by_round) >= 3
        else [x for logs in by_round for x in logs]
    )
    if len(units) < 2:
        return None
    mean, spread = fmean(units), _t95(len(units) - 1) * stdev(units) / math.sqrt(len(units))
    pairs = sum(len(logs) for logs in by_round)
    return Ratio(math.exp(mean), math.exp(mean - spread), math.exp(mean + spread), pairs)


def _rounds(cells: list[Cell], scenario: str, target: str) -> list[Cell]:
    return sorted(
        (c for c in cells if c.scenario == scenario and c.target == target),
        key=lambda c: c.round,
    )


def _join(values: list[float | None], fmt: Callable[[float], str]) -> str:
    return ", ".join("–" if v is None else fmt(v) for v in values) or "–"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return fmean(known) if known else None


def before_after(cells: list[Cell], scenarios: list[str], ref: str) -> str:
    """CPU ms/request now and at `ref` per round, their ratio (after / before) per round and
    from the paired slices of all rounds, and the verdict on the 5% bar."""
    head = (
        f"| scenario | CPU ms/req now | CPU ms/req at {ref} | after/before by round "
        "| after/before, paired slices (95% CI) | req/s now / before | other load "
        f"| within {TOLERANCE - 1:.0%} |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for scenario in scenarios:
        now, then = _rounds(cells, scenario, AFTER), _rounds(cells, scenario, BEFORE)
        if not now or not then:
            continue
        refs = [find(then, scenario, BEFORE, c.round) for c in now]
        ratios = [
            _ratio(a.cpu_ms_per_req, b.cpu_ms_per_req if b else None)
            for a, b in zip(now, refs, strict=True)
        ]
        estimate = paired(now, refs)
        load = [c.foreign_pct for c in now + then]
        lines.append(
            "| "
            + " | ".join(
                [
                    scenario,
                    _join([c.cpu_ms_per_req for c in now], lambda v: f"{v:.3f}"),
                    _join([c.cpu_ms_per_req for c in then], lambda v: f"{v:.3f}"),
                    _join(ratios, lambda v: f"{v:.3f}"),
                    "–" if estimate is None else f"**{estimate.text()}**",
                    f"{fmean(c.rps for c in now):,.0f} / {fmean(c.rps for c in then):,.0f}",
                    f"{min(load):.0f}–{max(load):.0f}%",
                    "–" if estimate is None else estimate.verdict(),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def surface_overhead(cells: list[Cell], scenarios: dict[str, tuple[str, str | None]]) -> str:
    """Each other surface's scenario against OpenAI chat to GPT of the same shape (its
    baseline) and against OpenAI chat to the same model: CPU ratio and +p50, per round.

    `scenarios`: scenario → (surface name, baseline scenario); scenarios without a baseline
    (the chat ones) are skipped."""
    by_surface_and_baseline = {
        (surface, baseline): name for name, (surface, baseline) in scenarios.items()
    }
    head = (
        "| scenario | target | CPU ms/req | ÷ chat to GPT, by round → paired slices (95% CI) "
        "| +p50 ms over chat to GPT | ÷ chat, same model | +p50 ms over chat, same model "
        "| req/s |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, (surface, baseline) in scenarios.items():
        if baseline is None:
            continue
        same = _SAME_MODEL.get(surface)
        same_name = by_surface_and_baseline.get((same, baseline)) if same != "chat" else baseline
        for target in (AFTER, BEFORE):
            rows = _rounds(cells, name, target)
            if not rows:
                continue
            gpt = [find(cells, baseline, target, c.round) for c in rows]
            model = [find(cells, same_name, target, c.round) if same_name else None for c in rows]
            lines.append(
                "| "
                + " | ".join(
                    [
                        name,
                        target,
                        _join([c.cpu_ms_per_req for c in rows], lambda v: f"{v:.3f}"),
                        *_against(rows, gpt),
                        *_against(rows, model),
                        _join([c.rps for c in rows], lambda v: f"{v:,.0f}"),
                    ]
                )
                + " |"
            )
    return "\n".join(lines)


def _against(rows: list[Cell], refs: list[Cell | None]) -> list[str]:
    """By round, then from the paired slices with the 95% interval: `1.08×, 1.10× → 1.09×
    (1.05–1.12)`."""
    if all(r is None for r in refs):
        return ["–", "–"]
    ratios = [
        _ratio(c.cpu_ms_per_req, r.cpu_ms_per_req if r else None)
        for c, r in zip(rows, refs, strict=True)
    ]
    extra = [
        c.p50_ms - r.p50_ms if r and c.p50_ms is not None and r.p50_ms is not None else None
        for c, r in zip(rows, refs, strict=True)
    ]
    text = _join(ratios, lambda v: f"{v:.2f}×")
    estimate = paired(rows, refs)
    if estimate is not None:
        text += f" → **{estimate.value:.2f}×** ({estimate.low:.2f}–{estimate.high:.2f})"
    return [text, _join(extra, lambda v: f"{v:+.2f}")]
