"""The simulator's ASGI app factory: provider routes plus the `/_simulator` control routes.

The OpenAI, Anthropic and Gemini wire formats are served on one port (their paths do not
overlap: `/v1/chat/completions`, `/v1/messages`, `/v1beta/models/...`). Adding a provider
format means adding its routes to `formats.FORMATS`; everything else (faults, the optional
request log, pacing) is shared through the app's `Simulator` state.
"""

from __future__ import annotations

from starlette.applications import Starlette

from routeplex_gateway.simulator.delivery import Pacing
from routeplex_gateway.simulator.faults import control_routes
from routeplex_gateway.simulator.formats import FORMATS
from routeplex_gateway.simulator.request_log import RequestLog, log_routes
from routeplex_gateway.simulator.state import Simulator


def create_simulator_app(
    *, time_to_first_token_s: float = 0.0, chunk_gap_s: float = 0.0, request_log: bool = False
) -> Starlette:
    """A fresh simulator app with its own faults, and its own request log with `request_log`.

    The log holds request bodies (prompts), so only test tools ask for it: `routeplex
    simulate` and the test suite's simulator. The one `routeplex serve` starts keeps none,
    and has no `/_simulator/requests` route at all.

    `time_to_first_token_s` delays every successful answer before its headers;
    `chunk_gap_s` spaces stream chunks (and delays a non-streamed answer by the same total),
    so benchmarks can model a real provider's pacing. Both default to no delay.
    """
    if time_to_first_token_s < 0 or chunk_gap_s < 0:
        raise ValueError("pacing delays must be >= 0")
    sim = Simulator(
        pacing=Pacing(time_to_first_token_s, chunk_gap_s),
        requests=RequestLog() if request_log else None,
    )
    routes = [route for wire_format in FORMATS.values() for route in wire_format.routes(sim)]
    routes += control_routes(sim.faults)
    if sim.requests is not None:
        routes += log_routes(sim.requests)
    app = Starlette(routes=routes)
    app.state.simulator = sim
    return app
