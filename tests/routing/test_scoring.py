"""Scoring for `routeplex-ai`: table-driven decisions per strategy and category, eligibility
with reasons, budget awareness, health, determinism."""

from __future__ import annotations

import pytest

from routeplex_gateway.config import ModelOverride, Settings
from routeplex_gateway.providers import ProviderRegistry
from routeplex_gateway.routing.catalog import build_catalog
from routeplex_gateway.routing.classifier import Classification, classify
from routeplex_gateway.routing.health import FAILURES_TO_OPEN
from routeplex_gateway.routing.router import Router
from routeplex_gateway.routing.scoring import STRATEGY_WEIGHTS, Scorer, weights_for
from tests.support.chat import openai_request


def classify_body(body: dict[str, object]) -> Classification:
    return classify(openai_request(body))


@pytest.fixture
def scorer() -> Scorer:
    catalog = build_catalog(Settings(), simulator_url="http://127.0.0.1:9")
    router = Router(catalog, ProviderRegistry())
    scorer = Scorer(catalog, router.health)
    scorer.servable = router.servable  # type: ignore[attr-defined]
    return scorer


def rank(scorer: Scorer, prompt: str, strategy: str, **options: object) -> list[object]:
    body = {"messages": [{"role": "user", "content": prompt}], **options.pop("body", {})}
    ranked, _ = scorer.rank(
        list(scorer.catalog.models.values()),
        classify_body(body),
        strategy,
        max_output_tokens=options.pop("max_output_tokens", 512),
        test_mode=bool(options.pop("test_mode", False)),
        budget_picousd=options.pop("budget", None),  # type: ignore[arg-type]
        allowed=options.pop("allowed", None),  # type: ignore[arg-type]
        servable=scorer.servable,  # type: ignore[attr-defined]
    )
    return ranked


def best(scorer: Scorer, prompt: str, strategy: str, **options: object) -> str:
    return rank(scorer, prompt, strategy, **options)[0].model.id  # type: ignore[attr-defined]


CODE = "Write a python function that implements a thread-safe LRU cache with tests"
CHAT = "hello! how are you"

# One row per (prompt, strategy): the model the router must pick. Changing a profile or a
# price changes these on purpose — the table is the documented behaviour.
DECISIONS = [
    (CODE, "quality", "claude-sonnet-4-20250514"),
    (CODE, "cost", "gpt-4.1-nano"),
    (CODE, "speed", "gpt-4.1-nano"),
    (CODE, "balanced", "gpt-4.1-nano"),
    (CODE, "auto", "gpt-4.1"),
    (CHAT, "quality", "claude-sonnet-4-20250514"),
    (CHAT, "cost", "gpt-4.1-nano"),
    (CHAT, "auto", "gpt-4.1-nano"),
    ("Prove that the square root of 2 is irrational, step by step", "auto", "gemini-2.5-pro"),
    ("Prove that the square root of 2 is irrational, step by step", "cost", "gpt-4.1-nano"),
    ("Summarize the key points of this article", "balanced", "gpt-4.1-nano"),
    ("Summarize the key points of this article", "quality", "claude-sonnet-4-20250514"),
]


@pytest.mark.parametrize(("prompt", "strategy", "model"), DECISIONS)
def test_decision_table(scorer: Scorer, prompt: str, strategy: str, model: str) -> None:
    assert best(scorer, prompt, strategy) == model


def test_cost_and_quality_pick_visibly_different_models(scorer: Scorer) -> None:
    assert best(scorer, CODE, "cost") != best(scorer, CODE, "quality")


def test_decisions_are_deterministic(scorer: Scorer) -> None:
    first = [c.explain() for c in rank(scorer, CODE, "auto")]  # type: ignore[attr-defined]
    assert all(
        first == [c.explain() for c in rank(scorer, CODE, "auto")]  # type: ignore[attr-defined]
        for _ in range(5)
    )


def test_weights() -> None:
    assert STRATEGY_WEIGHTS["balanced"] == (40, 25, 20, 15)
    assert all(sum(w) == 100 for w in STRATEGY_WEIGHTS.values())
    assert (
        weights_for("auto", classify_body({"messages": [{"role": "user", "content": CODE}]}))[0]
        > 40
    )
    assert (
        weights_for("auto", classify_body({"messages": [{"role": "user", "content": CHAT}]}))[1]
        > 25
    )


def test_exclusions_carry_reasons(scorer: Scorer) -> None:
    ranked = rank(
        scorer,
        "describe this",
        "auto",
        test_mode=True,
        body={
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "describe this"},
                        {"type": "image_url", "image_url": {"url": "https://example.test/a.png"}},
                    ],
                }
            ]
        },
    )
    reasons = {c.model.id: c.excluded for c in ranked}  # type: ignore[attr-defined]
    assert reasons["o3-mini"] in ("needs vision", "premium model in test mode")
    assert reasons["gpt-4o"] == "premium model in test mode"
    assert reasons["gpt-4o-mini"] is None
    eligible = [c for c in ranked if c.excluded is None]  # type: ignore[attr-defined]
    assert all(c.model.tier == "default" for c in eligible)  # type: ignore[attr-defined]


def test_budget_aware(scorer: Scorer) -> None:
    # A budget that only the cheapest models fit: the expensive ones are out, with a reason.
    ranked = rank(scorer, CODE, "quality", budget=1_000_000_000, max_output_tokens=1000)
    reasons = {c.model.id: c.excluded for c in ranked}  # type: ignore[attr-defined]
    assert reasons["claude-sonnet-4-20250514"] == (
        "estimated cost exceeds the remaining daily budget"
    )
    assert reasons["gpt-4.1-nano"] is None


def test_context_window_too_small(scorer: Scorer) -> None:
    huge = "word " * 900_000  # ~ 1.1 M tokens: only the million-token models could try
    ranked = rank(scorer, huge, "auto")
    reasons = {c.model.id: c.excluded for c in ranked}  # type: ignore[attr-defined]
    assert reasons["gpt-4o-mini"] == "context window too small"


def test_needed_capabilities_exclude_models_without_them() -> None:
    # gpt-4.1-nano, the cheapest model, made unable to call tools or follow a JSON schema;
    # o3-mini ships without vision.
    catalog = build_catalog(
        Settings(
            models={
                "gpt-4.1-nano": ModelOverride(
                    capabilities={"streaming": True, "tools": False, "vision": True}
                )
            }
        ),
        simulator_url="http://127.0.0.1:9",
    )
    router = Router(catalog, ProviderRegistry())
    scorer = Scorer(catalog, router.health)
    scorer.servable = router.servable  # type: ignore[attr-defined]
    assert best(scorer, CHAT, "cost") == "gpt-4.1-nano"
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    schema = {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}}
    image = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
    cases = [
        ({"tools": [tool]}, "gpt-4.1-nano", "needs tools"),
        ({"response_format": schema}, "gpt-4.1-nano", "needs JSON schema"),
        ({"messages": [{"role": "user", "content": image}]}, "o3-mini", "needs vision"),
    ]
    for body, model, reason in cases:
        ranked = rank(scorer, CHAT, "cost", body=body)
        reasons = {c.model.id: c.excluded for c in ranked}  # type: ignore[attr-defined]
        assert reasons[model] == reason, body
        assert ranked[0].model.id != model  # type: ignore[attr-defined]
        assert sum(r is None for r in reasons.values()) > 1  # the others still compete


def test_open_circuits_are_avoided_until_everything_is_down(scorer: Scorer) -> None:
    winner = best(scorer, CODE, "cost")
    model = scorer.catalog.models[winner]
    for deployment in model.deployments:
        for _ in range(FAILURES_TO_OPEN):
            scorer.health.record(deployment.id, ok=False, latency_ms=1)
    ranked = rank(scorer, CODE, "cost")
    assert ranked[0].model.id != winner  # type: ignore[attr-defined]
    assert {c.model.id: c.excluded for c in ranked}[winner] == "unhealthy (circuit open)"  # type: ignore[attr-defined]
    # Every model down: the least bad is still tried rather than failing untried.
    for m in scorer.catalog.models.values():
        for deployment in m.deployments:
            for _ in range(FAILURES_TO_OPEN):
                scorer.health.record(deployment.id, ok=False, latency_ms=1)
    survivors = [c for c in rank(scorer, CODE, "cost") if c.excluded is None]  # type: ignore[attr-defined]
    assert len(survivors) == 1


def test_deprecated_models_are_not_chosen(scorer: Scorer) -> None:
    reasons = {c.model.id: c.excluded for c in rank(scorer, CHAT, "cost")}  # type: ignore[attr-defined]
    assert reasons["gemini-2.0-flash"] == "deprecated"  # its shutdown date has passed
