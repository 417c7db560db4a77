"""`GET /openapi.json`: the OpenAPI 3 description of RoutePlex's HTTP API.

The description is a static file beside this module (`openapi.json`), written by hand from
DESIGN.md §2 and kept honest by the schemathesis suite in `tests/fuzz`, which fuzzes a live
gateway from what this endpoint serves. It is read on first request, not at import time.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

from .wire import json_response


@cache
def description() -> bytes:
    return resources.files(__package__).joinpath("openapi.json").read_bytes()


async def document(request: Request) -> Response:
    return json_response(description())
