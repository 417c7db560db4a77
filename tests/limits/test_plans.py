"""Plans resolve into policies: shipped defaults, config plans, overrides, key narrowing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from routeplex_gateway.config import PlanConfig, Settings
from routeplex_gateway.limits.plans import Limits, Plans, validate_limits


def test_shipped_plans() -> None:
    plans = Plans(Settings().all_plans)
    evaluation = plans.limits("evaluation")
    assert evaluation == Limits(
        tokens_per_day=20_000,
        cost_per_day_picousd=170_000_000_000,
        rpm=5,
        concurrency=1,
        binding=True,
    )
    usage = plans.limits("usage")
    assert (usage.tokens_per_day, usage.rpm, usage.concurrency) == (500_000, 30, 5)
    assert usage.cost_per_day_picousd == 1_670_000_000_000
    assert plans.limits("unlimited").binding is False


def test_custom_plan_from_config_and_overrides() -> None:
    settings = Settings(
        plans={"team": PlanConfig(tokens_per_day=10**7, rpm=600, cost_per_day_usd=Decimal("50"))}
    )
    plans = Plans(settings.all_plans)
    policy = plans.policy("team", {"rpm": 1200}, None)
    assert policy.account.rpm == 1200 and policy.account.tokens_per_day == 10**7
    assert policy.key is None


def test_key_caps_only_narrow() -> None:
    plans = Plans(Settings().all_plans)
    policy = plans.policy(
        "usage", None, {"rpm": 100, "tokens_per_day": 1000, "cost_per_day_usd": "0.01"}
    )
    assert policy.key is not None
    assert policy.key.rpm == 30  # a key cannot raise the account's rate
    assert policy.key.tokens_per_day == 1000
    assert policy.key.cost_per_day_picousd == 10_000_000_000


def test_unknown_plan_falls_back_to_evaluation() -> None:
    plans = Plans(Settings().all_plans)
    assert plans.policy("platinum", None, None).account == plans.limits("evaluation")


@pytest.mark.parametrize(
    "bad", [{"rpm": -1}, {"rpm": "many"}, {"colour": 1}, {"cost_per_day_usd": "abc"}, [1]]
)
def test_invalid_limits_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        validate_limits(bad)
