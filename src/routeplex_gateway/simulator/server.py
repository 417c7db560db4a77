"""Running the simulator as a server (`routeplex simulate --host --port`).

uvicorn waits for open requests before it shuts down, and a hung or stalled simulated request
never finishes on its own, so the server releases them first: shutdown stays prompt even while
a fault holds connections open.
"""

from __future__ import annotations

import socket

import uvicorn

from routeplex_gateway.simulator.app import create_simulator_app
from routeplex_gateway.simulator.state import Simulator


class SimulatorServer(uvicorn.Server):
    """A uvicorn server that releases hung and stalled requests when it shuts down."""

    def __init__(self, config: uvicorn.Config, simulator: Simulator) -> None:
        super().__init__(config)
        self._simulator = simulator

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._simulator.faults.release_waiters()
        await super().shutdown(sockets)


def simulator_server(
    host: str,
    port: int,
    *,
    time_to_first_token_s: float = 0.0,
    chunk_gap_s: float = 0.0,
    quiet: bool = False,
    request_log: bool = False,
) -> SimulatorServer:
    """A ready-to-run server for a fresh simulator app; `quiet` logs warnings only;
    `request_log` keeps the last request bodies (a test tool's, see `create_simulator_app`)."""
    app = create_simulator_app(
        time_to_first_token_s=time_to_first_token_s,
        chunk_gap_s=chunk_gap_s,
        request_log=request_log,
    )
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning" if quiet else "info", access_log=not quiet
    )
    simulator: Simulator = app.state.simulator
    return SimulatorServer(config, simulator)


async def serve_simulator(
    host: str,
    port: int,
    *,
    time_to_first_token_s: float = 0.0,
    chunk_gap_s: float = 0.0,
    quiet: bool = False,
    request_log: bool = False,
) -> None:
    """Serve the simulator until the process is asked to stop."""
    server = simulator_server(
        host,
        port,
        time_to_first_token_s=time_to_first_token_s,
        chunk_gap_s=chunk_gap_s,
        quiet=quiet,
        request_log=request_log,
    )
    await server.serve()
