"""What happens to a prompt downstream, and what a caller may require of it.

A deployment's `DataPolicy` is what its provider does with the traffic it is sent: how many
days it keeps it (0: zero data retention), whether it may train on it, and the regions where
it is processed. Any of the three may be unknown (None), and unknown never satisfies a
requirement: a gateway that routes on a guess is not keeping a promise.

A `DataRequirement` is what an account, one of its keys, or one request asks for: zero
retention, no training, and the regions allowed. Requirements only ever narrow when they are
combined (`narrow`), so a key cannot loosen its account's and a request header cannot loosen
its key's.

Both are written as short labels (`zero-retention, no-training, region=eu`), a closed
vocabulary of words and region codes: the request header, the stored requirement of an
account or key and the metadata row all use them, and none can carry free text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

ZERO_RETENTION = "zero-retention"
NO_TRAINING = "no-training"
REGION = "region"
# Region codes as providers publish them (`us`, `eu`, `uk`, `asia-northeast1`): short,
# lower-case, no free text.
_REGION_CODE = re.compile(r"[a-z][a-z0-9-]{1,23}")
MAX_REGIONS = 16


class DataPolicyError(ValueError):
    """A data policy or requirement label that cannot be read; the message says why."""


def region_codes(values: Iterable[str]) -> frozenset[str]:
    """Region codes, checked and lower-cased; `DataPolicyError` names the first bad one."""
    codes: set[str] = set()
    for value in values:
        code = value.strip().lower()
        if not _REGION_CODE.fullmatch(code):
            raise DataPolicyError(
                "a region is a short code of lower-case letters, digits and dashes "
                "(`eu`, `us`, `europe-west4`)"
            )
        codes.add(code)
    if len(codes) > MAX_REGIONS:
        raise DataPolicyError(f"at most {MAX_REGIONS} regions")
    return frozenset(codes)


@dataclass(frozen=True, slots=True)
class DataPolicy:
    """What one deployment's provider does with the traffic it is sent; None is unknown."""

    retention_days: int | None = None
    trains_on_data: bool | None = None
    regions: frozenset[str] | None = None

    @property
    def known(self) -> bool:
        return None not in (self.retention_days, self.trains_on_data, self.regions)

    def over(self, base: DataPolicy) -> DataPolicy:
        """This policy's known fields, the rest from `base` (a configured override over a
        provider's published default)."""
        return DataPolicy(
            retention_days=base.retention_days
            if self.retention_days is None
            else self.retention_days,
            trains_on_data=base.trains_on_data
            if self.trains_on_data is None
            else self.trains_on_data,
            regions=base.regions if self.regions is None else self.regions,
        )

    def label(self) -> str:
        """`retention-days=30, training=no, region=us` (`unknown` for what is not known)."""
        retention = "unknown" if self.retention_days is None else str(self.retention_days)
        training = {None: "unknown", True: "yes", False: "no"}[self.trains_on_data]
        regions = ["unknown"] if self.regions is None else sorted(self.regions) or ["none"]
        return ", ".join(
            [f"retention-days={retention}", f"training={training}"]
            + [f"{REGION}={r}" for r in regions]
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "retention_days": self.retention_days,
            "trains_on_data": self.trains_on_data,
            "regions": sorted(self.regions) if self.regions is not None else None,
        }


UNKNOWN = DataPolicy()


@dataclass(frozen=True, slots=True)
class DataRequirement:
    """What may happen to a prompt downstream. `regions` None allows every region."""

    zero_retention: bool = False
    no_training: bool = False
    regions: frozenset[str] | None = None

    def __bool__(self) -> bool:
        return self.zero_retention or self.no_training or self.regions is not None

    def narrow(self, other: DataRequirement | None) -> DataRequirement:
        """Both requirements at once: each condition of either, the regions both allow."""
        if not other:
            return self
        if not self:
            return other
        if self.regions is None or other.regions is None:
            regions = self.regions if other.regions is None else other.regions
        else:
            regions = self.regions & other.regions
        return DataRequirement(
            zero_retention=self.zero_retention or other.zero_retention,
            no_training=self.no_training or other.no_training,
            regions=regions,
        )

    def unmet(self, policy: DataPolicy) -> tuple[str, ...]:
        """The conditions `policy` does not meet (none: it complies). Unknown meets none."""
        gaps: list[str] = []
        if self.zero_retention and policy.retention_days != 0:
            gaps.append(ZERO_RETENTION)
        if self.no_training and policy.trains_on_data is not False:
            gaps.append(NO_TRAINING)
        if self.regions is not None and (
            policy.regions is None or not policy.regions or not policy.regions <= self.regions
        ):
            gaps.append(self.region_label())
        return tuple(gaps)

    def region_label(self) -> str:
        if self.regions is None:
            return ""
        if not self.regions:
            return f"{REGION}=none"  # the requirements combined allow no region at all
        return "|".join(f"{REGION}={r}" for r in sorted(self.regions))

    def label(self) -> str:
        """`zero-retention, no-training, region=eu, region=us` ('' when nothing is required)."""
        parts = [ZERO_RETENTION] if self.zero_retention else []
        if self.no_training:
            parts.append(NO_TRAINING)
        if self.regions is not None:
            parts += [f"{REGION}={r}" for r in sorted(self.regions)] or [f"{REGION}=none"]
        return ", ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {
            "zero_retention": self.zero_retention,
            "no_training": self.no_training,
            "regions": sorted(self.regions) if self.regions is not None else None,
        }

    @classmethod
    def parse(cls, text: str | None) -> DataRequirement:
        """A requirement from its label: comma-separated `zero-retention`, `no-training` and
        `region=CODE` (repeated: any of them). Empty or None: nothing required."""
        if text is None or not text.strip():
            return NOTHING
        if len(text) > 1024:
            raise DataPolicyError("at most 1024 characters")
        zero_retention = no_training = no_region = False
        regions: list[str] = []
        for raw in text.split(","):
            word = raw.strip().lower()
            if word == ZERO_RETENTION:
                zero_retention = True
            elif word == NO_TRAINING:
                no_training = True
            elif word.startswith(f"{REGION}="):
                value = word.partition("=")[2].strip()
                if value == "none":
                    no_region = True
                else:
                    regions.append(value)
            elif word:
                raise DataPolicyError(
                    "expected a comma-separated list of zero-retention, no-training and region=CODE"
                )
        allowed = region_codes(regions) if regions else None
        return cls(
            zero_retention=zero_retention,
            no_training=no_training,
            regions=frozenset() if no_region else allowed,
        )


NOTHING = DataRequirement()
