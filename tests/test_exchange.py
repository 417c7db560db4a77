"""Request ids: unique, and ordered by creation time (the metadata table's primary key)."""

from __future__ import annotations

import re
import time

from routeplex_gateway.exchange import new_request_id


def test_request_ids_are_unique_in_a_burst() -> None:
    ids = [new_request_id() for _ in range(100_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"req_[0-9a-f]{28}", i) for i in ids[:100])


def test_request_ids_sort_in_creation_order() -> None:
    earlier = [new_request_id() for _ in range(10)]
    time.sleep(0.002)
    later = [new_request_id() for _ in range(10)]
    assert max(earlier) < min(later)
    # The leading digits are the creation time in Unix milliseconds.
    now_ms = time.time_ns() // 1_000_000
    assert 0 <= now_ms - int(later[0][4:16], 16) < 1_000
