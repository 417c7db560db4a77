"""The privacy page's record table holds every stored column exactly once, whatever the
grouping knows of: a column added to the record later still shows, on its own."""

from __future__ import annotations

from routeplex_gateway.dashboard.account_pages import record_groups
from routeplex_gateway.metering.record import METADATA_FIELDS


def test_every_stored_column_once() -> None:
    groups = record_groups(METADATA_FIELDS)
    shown = [field for group in groups for field in group]
    assert sorted(shown) == sorted(METADATA_FIELDS)
    assert len(groups) <= 8, "more table columns than fit 1280 px"


def test_a_new_column_is_not_lost_and_a_gone_one_not_invented() -> None:
    fields = (*(f for f in METADATA_FIELDS if f != "strategy"), "upstream_region")
    groups = record_groups(fields)
    shown = [field for group in groups for field in group]
    assert sorted(shown) == sorted(fields)
    assert groups[-1] == ("upstream_region",)
