"""The state one simulator app shares across its provider formats.

Each `create_simulator_app()` call gets its own `Simulator`, reachable as
`app.state.simulator`, so parallel test servers never see each other's faults or requests.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from starlette.requests import Request

from routeplex_gateway.simulator.delivery import Pacing
from routeplex_gateway.simulator.faults import FaultRegistry
from routeplex_gateway.simulator.request_log import RequestLog


@dataclass
class Simulator:
    """Faults, the request log (None when the app keeps none), pacing and the response
    counter of one app."""

    faults: FaultRegistry = field(default_factory=FaultRegistry)
    requests: RequestLog | None = None
    pacing: Pacing = field(default_factory=Pacing)
    _sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_sequence(self) -> int:
        """A number unique within this app, used to keep response ids unique."""
        return next(self._sequence)

    def received(self, request: Request, raw_body: bytes) -> None:
        """Log a provider request, when this app keeps a request log."""
        if self.requests is not None:
            self.requests.record(request, raw_body)
