"""The in-memory log of the last requests received on provider endpoints.

Tests read it at `GET /_simulator/requests` to check what the gateway sent upstream: the
parsed body, which auth header was present (its name, never its value) and the names of all
headers. Only the last `LOG_SIZE` requests are kept, in memory only, newest last;
`DELETE /_simulator/requests` empties it. The bodies are prompts, so only a simulator made
with `request_log=True` (a test tool's) has a log; the one `routeplex serve` starts has none.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from routeplex_gateway.simulator.delivery import json_response

LOG_SIZE = 50

# The auth headers of every simulated provider, in the order they are looked for.
AUTH_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key")


class RequestLog:
    """The last `LOG_SIZE` provider requests."""

    def __init__(self) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)

    def record(self, request: Request, raw_body: bytes) -> None:
        """Remember one request: method, path, auth header name, header names and body."""
        names = sorted({name.lower() for name in request.headers})
        self._entries.append(
            {
                "method": request.method,
                "path": request.url.path,
                "auth_header": next((h for h in AUTH_HEADERS if h in request.headers), None),
                "header_names": names,
                "body": _body(raw_body),
            }
        )

    def entries(self) -> list[dict[str, Any]]:
        """The logged requests, oldest first."""
        return list(self._entries)

    def clear(self) -> int:
        """Forget every request; return how many there were."""
        cleared = len(self._entries)
        self._entries.clear()
        return cleared


def log_routes(log: RequestLog) -> list[Route]:
    """`GET` and `DELETE /_simulator/requests`."""

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            return json_response({"cleared": log.clear()})
        return json_response({"requests": log.entries()})

    return [Route("/_simulator/requests", requests, methods=["GET", "DELETE"])]


def _body(raw: bytes) -> Any:
    # Bodies that are not JSON are kept as text, so tests can see what actually arrived.
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", errors="replace")
