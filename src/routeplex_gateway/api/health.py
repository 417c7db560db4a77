"""Operational endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import os

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..gateway import Gateway
from .wire import json_response


async def health(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    return json_response(
        orjson.dumps(
            {
                "status": "degraded" if gw.supervisor.failing else "ok",
                "pid": os.getpid(),
                "simulated": gw.simulator_url is not None,
                "metadata_pending": gw.recorder.pending,
                # Loop names only: what failed is in the logs, by type.
                "failing_loops": gw.supervisor.failing,
            }
        )
    )


async def metrics(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    return Response(gw.metrics.render(), media_type="text/plain; version=0.0.4")
