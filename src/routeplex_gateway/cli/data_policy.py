"""The data-policy flags of `accounts update` and `keys create|update`, and the requirement
they make of a stored one: `--clear-data-policy` first, then each condition given is added and
`--regions` replaces the allowed regions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from ..data_policy import DataPolicyError, DataRequirement, region_codes
from .options import refuse

ZeroRetentionOption = Annotated[
    bool,
    typer.Option(
        "--require-zero-retention",
        help="Only providers that keep nothing (zero data retention).",
    ),
]
NoTrainingOption = Annotated[
    bool, typer.Option("--no-training", help="Only providers that do not train on the traffic.")
]
RegionsOption = Annotated[
    str | None,
    typer.Option(
        "--regions",
        help="Only providers that process the traffic in these regions, comma-separated "
        "(eu,us); replaces the regions required so far.",
    ),
]
ClearOption = Annotated[
    bool,
    typer.Option(
        "--clear-data-policy",
        help="Drop the data-policy requirement first (then any flags given apply).",
    ),
]


@dataclass(frozen=True, slots=True)
class Flags:
    """The data-policy flags as given on the command line."""

    zero_retention: bool = False
    no_training: bool = False
    regions: str | None = None
    clear: bool = False

    @property
    def given(self) -> bool:
        return self.zero_retention or self.no_training or self.regions is not None or self.clear

    def applied_to(self, label: str | None) -> DataRequirement:
        """The requirement stored as `label` with these flags applied; a bad region code is
        refused on the command line (exit 1), never a traceback."""
        current = DataRequirement() if self.clear else _stored(label)
        regions = current.regions if self.regions is None else _regions(self.regions)
        return DataRequirement(
            zero_retention=current.zero_retention or self.zero_retention,
            no_training=current.no_training or self.no_training,
            regions=regions,
        )


def _regions(text: str) -> frozenset[str]:
    codes = [code.strip() for code in text.split(",") if code.strip()]
    if not codes:
        refuse("Bad --regions: name at least one region code (eu, us, europe-west4).")
    try:
        return region_codes(codes)
    except DataPolicyError as exc:
        refuse(f"Bad --regions: {exc}.")


def _stored(label: str | None) -> DataRequirement:
    try:
        return DataRequirement.parse(label)
    except DataPolicyError:
        # Written only after validation; should one be unreadable, start over rather than
        # keep what cannot be read (the key cache refuses every model for it meanwhile).
        refuse("The stored data policy cannot be read; give --clear-data-policy to replace it.")


def described(requirement: DataRequirement | str | None) -> str:
    """A requirement (or its stored label) as the commands print it: its label, or `none`."""
    if isinstance(requirement, DataRequirement):
        return requirement.label() or "none"
    return requirement or "none"
