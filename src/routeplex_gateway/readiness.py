"""Readiness: whether this process should be sent traffic now, and if not, why.

Liveness (`/health`) only says the process serves HTTP. Readiness checks what serving well
needs: the database answers, Redis answers when it is configured, no background loop is
failing, the metadata buffer has room, and the process is not shutting down. The gateway
keeps serving through a database or Redis outage where it can (cached keys, buffered
metadata); being not ready tells a load balancer to prefer a replica that is whole.

Probes are cheap to send and unauthenticated, so one check is shared: callers arriving
while one runs wait for it, and its result stands for `FRESH_S` — a flood of probes costs
the database one query a second, not one per probe, and never takes the pool from traffic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .gateway import Gateway

log = logging.getLogger(__name__)

# A dependency slower than this to answer a ping counts as unreachable.
PING_TIMEOUT_S = 2.0
FRESH_S = 1.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """One readiness check's result: the reasons not to send traffic (none: ready)."""

    reasons: tuple[str, ...]
    failing_loops: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return not self.reasons


async def _answers(name: str, ping: Callable[[], Awaitable[object]]) -> bool:
    try:
        await asyncio.wait_for(ping(), PING_TIMEOUT_S)
    except Exception as exc:
        # Whatever stops a ping (refused, timed out, a driver's own error) means the same to
        # a probe; the type says which, for whoever reads the logs.
        log.warning(
            "readiness: dependency did not answer",
            extra={"backend": name, "error_type": type(exc).__name__},
        )
        return False
    return True


class Readiness:
    def __init__(self, gateway: Gateway) -> None:
        self._gw = gateway
        self._pinged: tuple[float, tuple[bool, bool]] | None = None
        self._pinging: asyncio.Future[tuple[bool, bool]] | None = None

    async def check(self) -> Verdict:
        gw = self._gw
        reasons: list[str] = []
        if gw.stopping:
            reasons.append("shutting_down")
        database, redis = await self._reachable()
        if not database:
            reasons.append("database_unreachable")
        if not redis:
            reasons.append("redis_unreachable")
        # What the process knows of itself is read fresh: a loop's failure may be brief.
        failing = tuple(gw.supervisor.failing)
        if failing:
            reasons.append("background_loop_failing")
        if not gw.recorder.accepting:
            reasons.append("metadata_buffer_full")
        return Verdict(tuple(reasons), failing)

    async def _reachable(self) -> tuple[bool, bool]:
        """Whether the database and Redis (when configured) answer: one ping of each shared
        by every probe within `FRESH_S`."""
        pinged = self._pinged
        if pinged is not None and time.monotonic() - pinged[0] < FRESH_S:
            return pinged[1]
        if self._pinging is None:
            self._pinging = asyncio.ensure_future(self._ping())
            self._pinging.add_done_callback(self._pinged_now)
        # Shielded: one probe going away must not cancel the ping the others wait for.
        return await asyncio.shield(self._pinging)

    def _pinged_now(self, done: asyncio.Future[tuple[bool, bool]]) -> None:
        self._pinging = None
        if not done.cancelled():
            self._pinged = (time.monotonic(), done.result())

    async def _ping(self) -> tuple[bool, bool]:
        database, redis = await asyncio.gather(
            _answers("database", self._gw.store.ping), _answers("redis", self._gw.quota.ping)
        )
        return database, redis
