"""Scoring candidates for `routeplex-ai`: which models may serve this request, and how well.

Each eligible model gets four scores in [0, 1] — capability fit, cost, latency, reliability —
combined with the strategy's weights. `balanced` is fixed at 40/25/20/15; `cost`, `speed` and
`quality` lean on one score; `auto` picks weights from the prompt's classification. Every
exclusion carries its reason, so a debug response can say why a model was not chosen.
Decisions depend only on the prompt's classification, the strategy and health numbers: the
same inputs always give the same ranking.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

from ..canonical import Usage
from .catalog import Catalog, CatalogModel
from .classifier import Classification
from .health import HealthBoard

Weights = tuple[int, int, int, int]  # capability, cost, latency, reliability (sum 100)

STRATEGY_WEIGHTS: dict[str, Weights] = {
    "balanced": (40, 25, 20, 15),
    "cost": (15, 60, 15, 10),
    "speed": (15, 15, 60, 10),
    "quality": (80, 5, 5, 10),
}
_HARD = frozenset({"code", "debugging", "math", "reasoning", "analysis", "planning"})
_LIGHT = frozenset(
    {
        "conversation",
        "classification",
        "extraction",
        "translation",
        "summarization",
        "data_formatting",
    }
)
_UNHEALTHY = "unhealthy (circuit open)"
_DEFAULT_QUALITY = 0.5
_DEFAULT_LATENCY_MS = 1000.0


@dataclass(frozen=True, slots=True)
class Profile:
    quality: float
    strengths: frozenset[str]
    latency_ms: float


def load_profiles() -> dict[str, Profile]:
    text = resources.files(__package__).joinpath("profiles.toml").read_text()
    return {
        model_id: Profile(
            float(p["quality"]),
            frozenset(p.get("strengths", ())),
            float(p.get("latency_ms", _DEFAULT_LATENCY_MS)),
        )
        for model_id, p in tomllib.loads(text)["profiles"].items()
    }


def weights_for(strategy: str, classification: Classification) -> Weights:
    if strategy != "auto":
        return STRATEGY_WEIGHTS[strategy]
    if classification.complexity == "high" or classification.category in _HARD:
        return (55, 15, 15, 15)  # hard work: a wrong cheap answer costs more than it saves
    if classification.complexity == "low" and classification.category in _LIGHT:
        return (25, 45, 20, 10)  # easy work: every capable model will do; spend less
    return STRATEGY_WEIGHTS["balanced"]


@dataclass(slots=True)
class Candidate:
    model: CatalogModel
    excluded: str | None = None
    score: float = 0.0
    parts: dict[str, float] | None = None
    instead_of: str | None = None  # the model that would have won but for open circuits
    unmet: tuple[str, ...] = ()  # the data-policy conditions that excluded it

    def explain(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "model": self.model.id,
            "provider": self.model.provider,
            "tier": self.model.tier,
        }
        if self.excluded is not None:
            entry["excluded"] = self.excluded
            if self.unmet:
                entry["unmet"] = list(self.unmet)
        else:
            entry["score"] = round(self.score, 4)
            entry["components"] = {k: round(v, 4) for k, v in (self.parts or {}).items()}
        if self.instead_of is not None:
            entry["instead_of"] = self.instead_of
        return entry


class Scorer:
    def __init__(
        self, catalog: Catalog, health: HealthBoard, profiles: dict[str, Profile] | None = None
    ) -> None:
        self.catalog = catalog
        self.health = health
        self.profiles = profiles if profiles is not None else load_profiles()

    def _profile(self, model: CatalogModel) -> Profile:
        return self.profiles.get(model.id) or Profile(
            _DEFAULT_QUALITY, frozenset(), _DEFAULT_LATENCY_MS
        )

    def _fit(self, model: CatalogModel, c: Classification, strategy: str) -> float:
        profile = self._profile(model)
        fit = profile.quality + (0.1 if c.category in profile.strengths else 0.0)
        if c.complexity == "high" and profile.quality < 0.7:
            fit -= 0.2
        elif c.complexity == "low" and strategy != "quality":
            fit = 0.6 + 0.4 * fit  # on easy work models differ less (unless quality is asked)
        return max(0.0, min(1.0, fit))

    def _latency_ms(self, model: CatalogModel) -> float:
        measured = [p for d in model.deployments if (p := self.health.p50_ms(d.id)) is not None]
        return min(measured) if measured else self._profile(model).latency_ms

    def _reliability(self, model: CatalogModel) -> float:
        rates = [r for d in model.deployments if (r := self.health.error_rate(d.id)) is not None]
        return 1.0 - min(rates) if rates else 1.0

    def estimated_cost(self, model: CatalogModel, c: Classification, max_out: int) -> int | None:
        return self.catalog.pricer.cost_picousd(
            model.id, Usage(input_tokens=c.context_tokens, output_tokens=max_out)
        )

    def rank(
        self,
        models: list[CatalogModel],
        c: Classification,
        strategy: str,
        *,
        max_output_tokens: int | None,
        test_mode: bool,
        budget_picousd: int | None,
        allowed: tuple[str, ...] | None,
        servable: Any,
        unmet: Callable[[CatalogModel], tuple[str, ...]] | None = None,
    ) -> tuple[list[Candidate], Weights]:
        """Every catalog model as a candidate: the eligible ones scored, best first, then the
        excluded ones with their reasons. `unmet` says what of the caller's data-policy
        requirement a model's deployments fail (None: nothing is required)."""
        weights = weights_for(strategy, c)
        today = datetime.now(UTC).date()
        candidates = [Candidate(m) for m in models]
        for cand in candidates:
            m = cand.model
            gaps = unmet(m) if unmet is not None else ()
            out = min(max_output_tokens or 1024, m.max_output_tokens)
            caps = m.capabilities
            if m.embedding is not None:
                cand.excluded = "embedding model"  # it answers vectors, not chat
            elif not servable(m):
                cand.excluded = "no provider configured"
            elif m.deprecated(today):
                cand.excluded = "deprecated"
            elif allowed is not None and m.id not in allowed:
                cand.excluded = "not allowed for this key"
            elif gaps:
                cand.unmet = gaps
                cand.excluded = "data policy: " + ", ".join(gaps)
            elif c.needs.tools and not caps.tools:
                cand.excluded = "needs tools"
            elif c.needs.vision and not caps.vision:
                cand.excluded = "needs vision"
            elif c.needs.json_schema and not caps.json_schema:
                cand.excluded = "needs JSON schema"
            elif c.context_tokens + out > m.context_window:
                cand.excluded = "context window too small"
            elif test_mode and m.tier != "default":
                cand.excluded = "premium model in test mode"
            elif budget_picousd is not None and (
                (cost := self.estimated_cost(m, c, out)) is not None and cost > budget_picousd
            ):
                cand.excluded = "estimated cost exceeds the remaining daily budget"
            elif not any(self.health.available(d.id) for d in m.deployments):
                cand.excluded = _UNHEALTHY
        eligible = [cand for cand in candidates if cand.excluded is None]
        unhealthy = [cand for cand in candidates if cand.excluded == _UNHEALTHY]
        if not eligible and unhealthy:
            # Every model out only for health: try the least bad rather than fail untried.
            best = min(
                unhealthy,
                key=lambda cand: (
                    min(self.health.badness(d.id) for d in cand.model.deployments),
                    cand.model.id,
                ),
            )
            best.excluded = None
            eligible = [best]
        self._score(eligible, c, strategy, weights, max_output_tokens)
        eligible.sort(key=lambda cand: (-cand.score, cand.model.id))
        if eligible and unhealthy:
            # Would a model the breaker keeps out have won? Then serving this one is a
            # fallback, and the record says so. Scored apart, so that models out of service
            # never change how the eligible ones compare.
            everyone = [Candidate(cand.model) for cand in (*eligible, *unhealthy)]
            self._score(everyone, c, strategy, weights, max_output_tokens)
            preferred = min(everyone, key=lambda cand: (-cand.score, cand.model.id)).model
            if preferred is not eligible[0].model:
                eligible[0].instead_of = preferred.id
        return eligible + [cand for cand in candidates if cand.excluded is not None], weights

    def _score(
        self,
        eligible: list[Candidate],
        c: Classification,
        strategy: str,
        weights: Weights,
        max_output_tokens: int | None,
    ) -> None:
        costs: dict[str, Decimal] = {}
        for cand in eligible:
            price = self.catalog.pricer.price(cand.model.id)
            if price is not None:
                per_in, per_out = price.per_1k()
                out = min(max_output_tokens or 512, cand.model.max_output_tokens)
                costs[cand.model.id] = (per_in or Decimal(0)) * c.context_tokens + (
                    per_out or Decimal(0)
                ) * out
        cheapest = min((v for v in costs.values() if v > 0), default=None)
        latencies = {cand.model.id: self._latency_ms(cand.model) for cand in eligible}
        fastest = min(latencies.values(), default=1.0)
        for cand in eligible:
            cost = costs.get(cand.model.id)
            cost_score = (
                0.3
                if cost is None
                else (1.0 if cheapest is None or cost <= 0 else float(cheapest / cost))
            )
            parts = {
                "capability": self._fit(cand.model, c, strategy),
                "cost": cost_score,
                "latency": fastest / latencies[cand.model.id] if latencies[cand.model.id] else 1,
                "reliability": self._reliability(cand.model),
            }
            cand.parts = parts
            cand.score = sum(w * v for w, v in zip(weights, parts.values(), strict=True)) / 100
