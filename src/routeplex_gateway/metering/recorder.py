"""The metadata writer: records are queued in memory by the hot path and written in batches
by a background task, so no request waits on the database.

When the database is unreachable, records wait in a bounded buffer and are written when it
returns; none is dropped while the buffer has room. When it is full, `accepting` turns false
and the gateway refuses new work rather than serve traffic it could not bill. Retries back
off exponentially (with jitter, capped at 5 s); new records never cut a wait short, so an
outage under load costs the database a handful of attempts, not one per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import date

from ..backoff import Backoff
from ..storage import StorageError, Store
from .record import RequestMetadata

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 5.0
_MIN_BACKOFF_S = 0.05


class Recorder:
    def __init__(self, store: Store, *, flush_s: float, batch_size: int, buffer_size: int) -> None:
        self._store = store
        self._flush_s = flush_s
        self._batch_size = batch_size
        self._buffer_size = buffer_size
        self._queue: deque[RequestMetadata] = deque()
        self._last_used: dict[str, date] = {}
        self._wake = asyncio.Event()
        self._backoff = Backoff(base_s=max(flush_s, _MIN_BACKOFF_S), cap_s=_MAX_BACKOFF_S)
        self._retry_in_s = 0.0
        self.written = 0

    @property
    def accepting(self) -> bool:
        return len(self._queue) < self._buffer_size

    @property
    def pending(self) -> int:
        return len(self._queue)

    def record(self, record: RequestMetadata) -> None:
        """Queue a record. Never blocks; called on the hot path."""
        self._queue.append(record)
        self._last_used[record.key_id] = record.created_at.date()
        if len(self._queue) >= self._batch_size:
            self._wake.set()

    async def drain(self, *, timeout_s: float = 10.0) -> None:
        """Write what is queued, once the loop has stopped (a normal shutdown loses nothing)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self._queue and asyncio.get_running_loop().time() < deadline:
            try:
                await self.flush()
            except StorageError:
                await asyncio.sleep(0.2)
        if self._queue:
            log.error("metadata records not written at shutdown", extra={"count": len(self._queue)})

    async def flush(self) -> None:
        """Write everything queued, one batch at a time. Raises StorageError and keeps the
        unwritten records queued when the database fails."""
        while self._queue:
            batch = [self._queue[i] for i in range(min(self._batch_size, len(self._queue)))]
            await self._store.insert_metadata(batch)
            for _ in batch:
                self._queue.popleft()
            self.written += len(batch)
        if self._last_used:
            last_used, self._last_used = self._last_used, {}
            try:
                await self._store.touch_last_used(last_used)
            except StorageError:
                self._last_used = {**last_used, **self._last_used}
                raise

    async def step(self) -> None:
        """One round of the writer loop: wait for a full batch or the flush timer, then
        write what is queued."""
        if self._backoff.failures:
            # In an outage only the timer decides: a full batch waking the writer on every
            # new record is what turned one outage into a retry per request.
            await asyncio.sleep(self._retry_in_s)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._flush_s)
        self._wake.clear()
        try:
            await self.flush()
            self._backoff.reset()
        except StorageError:
            self._retry_in_s = self._backoff.next_delay()
            log.warning(
                "metadata write failed; will retry",
                extra={
                    "pending": len(self._queue),
                    "failures": self._backoff.failures,
                    "retry_in_s": round(self._retry_in_s, 3),
                },
            )
