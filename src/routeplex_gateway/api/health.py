"""Operational endpoints: liveness, readiness and Prometheus metrics.

Liveness and readiness are unauthenticated (probes carry no key), so they say no more than
a probe needs: `/health` that the process serves, `/ready` whether it is ready. The reasons,
the process id, whether answers are simulated and the metadata buffer are an operator's
business: `/ready` adds them for an admin key.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..errors import GatewayError
from ..gateway import Gateway
from .native import error_response
from .wire import client_address, json_response

_ALIVE = orjson.dumps({"status": "ok"})
# What a client's probe of the server root gets (Claude Code sends `HEAD /` as it starts):
# that this is a gateway, and where its description is — nothing about this deployment.
_ROOT = orjson.dumps({"service": "RoutePlex", "description": "/openapi.json", "dashboard": "/app"})


async def root(request: Request) -> Response:
    return json_response(_ROOT)


async def health(request: Request) -> Response:
    """200 for as long as the process serves HTTP, whatever its dependencies do."""
    return json_response(_ALIVE)


async def ready(request: Request) -> Response:
    """200 when this process should be sent traffic, else 503; why, for an admin key."""
    gw: Gateway = request.app.state.gateway
    header = request.headers.get("authorization")
    if header is not None:
        try:
            await gw.keys.authenticate_admin(header, client_address(request))
        except GatewayError as error:
            return error_response(error)
    verdict = await gw.readiness.check()
    body: dict[str, Any] = {"status": "ready" if verdict.ready else "not_ready"}
    if header is not None:
        body |= {
            "reasons": list(verdict.reasons),
            # Loop names only: what failed is in the logs, by type.
            "failing_loops": list(verdict.failing_loops),
            "pid": os.getpid(),
            "simulated": gw.simulator_url is not None,
            "metadata_pending": gw.recorder.pending,
        }
    return json_response(orjson.dumps(body), 200 if verdict.ready else 503)


async def metrics(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    return Response(gw.metrics.render(), media_type="text/plain; version=0.0.4")
