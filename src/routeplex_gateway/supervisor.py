"""The supervisor of a process's background loops (key and session refresh, metadata writer,
retention).

Each loop is given as one step — wait for its moment, do its work — that the supervisor
runs again and again. A step's expected failures (the database being away) are the loop's
own business; anything else escaping a step is a bug, and it must neither end the loop for
good nor go unseen: it is logged by its type only (an exception's message could quote a
request), the loop restarts after a backoff, and `failing` names the loop until a step
succeeds again — `/ready` reports it (not ready, and which loop, to an operator).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from .backoff import Backoff

log = logging.getLogger(__name__)

_RESTART_BASE_S = 0.5
_RESTART_CAP_S = 60.0

Step = Callable[[], Awaitable[None]]


class Supervisor:
    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._failing: set[str] = set()

    @property
    def failing(self) -> list[str]:
        """The loops whose last step ended in an unexpected error, by name."""
        return sorted(self._failing)

    def start(self, name: str, step: Step) -> None:
        self._tasks[name] = asyncio.create_task(self._supervise(name, step), name=name)

    async def stop(self) -> None:
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _supervise(self, name: str, step: Step) -> None:
        backoff = Backoff(base_s=_RESTART_BASE_S, cap_s=_RESTART_CAP_S)
        while True:
            try:
                await step()
            except Exception as exc:
                self._failing.add(name)
                delay = backoff.next_delay()
                # The type and the frames (file, line, function) — never the message.
                log.error(
                    "background loop failed; restarting",
                    exc_info=exc,
                    extra={
                        "loop": name,
                        "failures": backoff.failures,
                        "retry_in_s": round(delay, 3),
                    },
                )
                await asyncio.sleep(delay)
                continue
            if name in self._failing:
                self._failing.discard(name)
                log.info("background loop recovered", extra={"loop": name})
            backoff.reset()
