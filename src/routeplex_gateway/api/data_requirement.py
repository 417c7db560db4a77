"""A data-policy requirement as the JSON APIs take and show it, for accounts and keys:
`{"zero_retention": bool, "no_training": bool, "regions": ["eu", …] | null}`, or null for
nothing required.

It is stored as its label (`DataRequirement.label()`, read back by `DataRequirement.parse`),
so what this module accepts is exactly what the key cache can combine. A refusal names the
field and what it takes, never what was sent.
"""

from __future__ import annotations

from typing import Any

from ..data_policy import MAX_REGIONS, DataPolicyError, DataRequirement, region_codes
from ..errors import GatewayError, validation

FIELDS = ("zero_retention", "no_training", "regions")
PARAM = "data_policy"
# What a stored label that cannot be read means to the key cache (`auth._NOWHERE`): no
# provider may serve it, which is what the views then say too.
_NOWHERE = DataRequirement(regions=frozenset())


def _refused(what: str, field: str | None = None) -> GatewayError:
    name = f"{PARAM}.{field}" if field else PARAM
    return validation(f"'{name}' must be {what}.", PARAM)


def requirement_label(value: Any) -> str | None:
    """The label to store for a body's `data_policy` (None: nothing required), or a 400.

    Every field is optional (false, false and any region when left out); `regions` is null
    for any region or a non-empty array of region codes — an empty one would let nothing
    serve the account, which no one means to ask for."""
    if value is None:
        return None
    if not isinstance(value, dict) or not set(value) <= set(FIELDS):
        raise _refused("null or an object of zero_retention, no_training and regions")
    for flag in ("zero_retention", "no_training"):
        if value.get(flag) is not None and not isinstance(value[flag], bool):
            raise _refused("a boolean", flag)
    regions = value.get("regions")
    allowed: frozenset[str] | None = None
    if regions is not None:
        if (
            not isinstance(regions, list)
            or not 1 <= len(regions) <= MAX_REGIONS
            or not all(isinstance(code, str) for code in regions)
        ):
            raise _refused(
                f"null (any region) or an array of 1 to {MAX_REGIONS} region codes", "regions"
            )
        try:
            allowed = region_codes(regions)
        except DataPolicyError as exc:
            raise validation(f"'{PARAM}.regions': {exc}.", PARAM) from None
    requirement = DataRequirement(
        zero_retention=value.get("zero_retention") is True,
        no_training=value.get("no_training") is True,
        regions=allowed,
    )
    return requirement.label() or None


def requirement_view(label: str | None) -> dict[str, Any] | None:
    """A stored label as the APIs show it; null when nothing is required."""
    return stored_requirement(label).as_dict() if label else None


def stored_requirement(label: str | None) -> DataRequirement:
    """A stored label read as the key cache reads it: one it cannot read allows nothing."""
    try:
        return DataRequirement.parse(label)
    except DataPolicyError:
        return _NOWHERE
