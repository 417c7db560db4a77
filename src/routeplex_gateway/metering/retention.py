"""Retention: append the daily billing records of closed days, then purge request metadata
older than the retention period — billing first, so no day is purged before it is billed.

Safe when several replicas run it at once: appending a day skips rows already there, and a
purge of rows already purged deletes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..storage import StorageError, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetentionReport:
    billed_days: int
    billing_rows: int
    purged_rows: int


async def run_retention(
    store: Store,
    *,
    retention_days: int,
    grace: timedelta,
    now: datetime | None = None,
) -> RetentionReport:
    now = now or datetime.now(UTC)
    # A day is billed once it has been over for `grace`: metadata buffered in a writer during
    # a database outage must have landed first.
    until = (now - grace).date()
    days = await store.pending_billing_days(until=until)
    rows = 0
    for day in days:
        rows += await store.append_billing_day(day)
    purged = await store.purge_metadata(now - timedelta(days=retention_days))
    return RetentionReport(billed_days=len(days), billing_rows=rows, purged_rows=purged)


class RetentionJob:
    """Runs `run_retention` in the server as a supervised loop (`step`): soon after start-up,
    then every `interval_s`."""

    def __init__(
        self, store: Store, *, retention_days: int, grace_s: float, interval_s: float
    ) -> None:
        self._store = store
        self._retention_days = retention_days
        self._grace = timedelta(seconds=grace_s)
        self._interval_s = interval_s
        # Replicas started together should not all run at the same instant.
        self._wait_s = min(interval_s, random.uniform(1.0, 5.0))
        self.last: RetentionReport | None = None

    async def step(self) -> None:
        await asyncio.sleep(self._wait_s)
        try:
            self.last = await run_retention(
                self._store, retention_days=self._retention_days, grace=self._grace
            )
            log.info(
                "retention ran",
                extra={"billed_days": self.last.billed_days, "purged_rows": self.last.purged_rows},
            )
        except StorageError:
            log.warning("retention failed; will retry at the next interval")
        # Only once a run is over: after an unexpected error the restarted loop retries
        # as soon as it did the first time, not an interval later.
        self._wait_s = self._interval_s
