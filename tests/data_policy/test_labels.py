"""Requirement and policy labels (`data_policy.py`): what the header, an account or a key may
say, how requirements combine (only ever narrowing), and what a policy fails of one."""

from __future__ import annotations

import pytest

from routeplex_gateway.data_policy import (
    UNKNOWN,
    DataPolicy,
    DataPolicyError,
    DataRequirement,
)

EU_ZDR = DataPolicy(retention_days=0, trains_on_data=False, regions=frozenset({"eu"}))
US_KEEPS = DataPolicy(retention_days=30, trains_on_data=False, regions=frozenset({"us"}))
MULTI = DataPolicy(retention_days=0, trains_on_data=False, regions=frozenset({"eu", "us"}))


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("zero-retention", "zero-retention"),
        ("no-training", "no-training"),
        ("region=eu", "region=eu"),
        ("region=us, region=eu", "region=eu, region=us"),
        (" NO-TRAINING ,Zero-Retention,region=EU ", "zero-retention, no-training, region=eu"),
        ("region=none", "region=none"),
        ("", ""),
        ("  ", ""),
    ],
)
def test_labels_read_back_canonically(text: str, label: str) -> None:
    assert DataRequirement.parse(text).label() == label
    assert DataRequirement.parse(label) == DataRequirement.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "zero-retention, sometimes",  # an unknown word
        "retention=0",
        "region=e",  # too short for a code
        "region=eu west",
        "region=" + "x" * 30,
        "région=eu",
        "region=eü",
        "no-training," * 100,  # over 1024 characters
        ",".join(f"region=r{i:02d}" for i in range(17)),  # more regions than allowed
    ],
)
def test_unreadable_labels_are_refused(text: str) -> None:
    with pytest.raises(DataPolicyError):
        DataRequirement.parse(text)


def test_combining_only_narrows() -> None:
    account = DataRequirement.parse("zero-retention, region=eu, region=us")
    # Asking for less than the account changes nothing.
    assert DataRequirement.parse("no-training").narrow(account).label() == (
        "zero-retention, no-training, region=eu, region=us"
    )
    assert DataRequirement.parse("").narrow(account) == account
    assert DataRequirement.parse("region=us").narrow(account).label() == (
        "zero-retention, region=us"
    )
    # Regions the two do not share: none left, so nothing can comply.
    disjoint = DataRequirement.parse("region=eu").narrow(DataRequirement.parse("region=us"))
    assert disjoint.label() == "region=none"
    assert disjoint.unmet(EU_ZDR) == ("region=none",)


@pytest.mark.parametrize(
    ("requirement", "policy", "unmet"),
    [
        ("zero-retention", EU_ZDR, ()),
        ("zero-retention", US_KEEPS, ("zero-retention",)),
        ("no-training", US_KEEPS, ()),
        ("no-training", DataPolicy(0, True, frozenset({"eu"})), ("no-training",)),
        ("region=eu", EU_ZDR, ()),
        ("region=eu", MULTI, ("region=eu",)),  # it may process in the US too
        ("region=eu, region=us", MULTI, ()),
        ("region=eu, region=us", US_KEEPS, ()),
        (
            "zero-retention, no-training, region=eu",
            UNKNOWN,
            (
                "zero-retention",
                "no-training",
                "region=eu",
            ),
        ),
        ("region=eu", DataPolicy(0, False, frozenset()), ("region=eu",)),
        ("zero-retention, region=us", EU_ZDR, ("region=us",)),
        (
            "region=us, region=eu, no-training",
            DataPolicy(30, None, None),
            (
                "no-training",
                "region=eu|region=us",
            ),
        ),
    ],
)
def test_what_a_policy_fails(requirement: str, policy: DataPolicy, unmet: tuple[str, ...]) -> None:
    assert DataRequirement.parse(requirement).unmet(policy) == unmet


def test_policy_labels_say_unknown_for_what_is_not_known() -> None:
    assert EU_ZDR.label() == "retention-days=0, training=no, region=eu"
    assert MULTI.label() == "retention-days=0, training=no, region=eu, region=us"
    assert UNKNOWN.label() == "retention-days=unknown, training=unknown, region=unknown"
    assert DataPolicy(retention_days=55).over(US_KEEPS).label() == (
        "retention-days=55, training=no, region=us"
    )
