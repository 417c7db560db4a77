"""The two compact tables of a before/after run (`python -m bench.run --compare-before REF`):
RoutePlex now against RoutePlex at REF, scenario by scenario, in CPU ms per request; and what
the other surfaces (Anthropic's Messages; OpenAI chat to Claude) cost over OpenAI chat of the
same shape.

CPU ms per request (the target's process CPU time over the window ÷ requests) is the figure
compared: on a shared two-core machine it moves far less with other people's load than
requests/s or latency do. Every figure is given per round (the rounds interleave the two
targets, the order reversed each round, so a drift of the machine shows as rounds that
disagree rather than as a difference between the targets); the verdict takes the mean.
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import fmean

from bench.report import Cell, find

AFTER, BEFORE = "routeplex", "routeplex-before"
# The bar: the chat path's CPU per request within 5% of what it was.
TOLERANCE = 1.05
# The same model through OpenAI's chat, for each surface other than chat to GPT.
_SAME_MODEL = {"messages-gpt": "chat", "messages-claude": "chat-claude"}


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
    """CPU ms/request now and at `ref`, per round, and their ratio (after / before)."""
    head = (
        "| scenario | CPU ms/req now | CPU ms/req at "
        + ref
        + " | after/before | after/before, mean | req/s now / before | other load | "
        + f"within {TOLERANCE - 1:.0%} |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for scenario in scenarios:
        now, then = _rounds(cells, scenario, AFTER), _rounds(cells, scenario, BEFORE)
        if not now or not then:
            continue
        pairs = [(a, find(then, scenario, BEFORE, a.round)) for a in now]
        ratios = [_ratio(a.cpu_ms_per_req, b.cpu_ms_per_req if b else None) for a, b in pairs]
        mean = _ratio(
            _mean([c.cpu_ms_per_req for c in now]), _mean([c.cpu_ms_per_req for c in then])
        )
        verdict = "–" if mean is None else ("yes" if mean <= TOLERANCE else "**no**")
        load = [c.foreign_pct for c in now + then]
        lines.append(
            "| "
            + " | ".join(
                [
                    scenario,
                    _join([c.cpu_ms_per_req for c in now], lambda v: f"{v:.3f}"),
                    _join([c.cpu_ms_per_req for c in then], lambda v: f"{v:.3f}"),
                    _join(ratios, lambda v: f"{v:.3f}"),
                    "–" if mean is None else f"**{mean:.3f}**",
                    f"{fmean(c.rps for c in now):,.0f} / {fmean(c.rps for c in then):,.0f}",
                    f"{min(load):.0f}–{max(load):.0f}%",
                    verdict,
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
        "| scenario | target | CPU ms/req | ÷ chat to GPT | +p50 ms over chat to GPT "
        "| ÷ chat, same model | +p50 ms over chat, same model | req/s |"
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
    return [_join(ratios, lambda v: f"{v:.2f}×"), _join(extra, lambda v: f"{v:+.2f}")]
