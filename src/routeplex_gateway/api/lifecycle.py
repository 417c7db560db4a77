"""A chat request's life in either dialect, closed exactly once however it ends.

`handle` opens the exchange, runs the dialect's `serve`, and closes the exchange with the
status of what it answered: the answer, a refusal, or — for an exception nobody expected —
a 500 in the dialect's envelope. A stream's exchange is handed over to its `EventStream`,
which closes it when the stream ends, whatever ends it (the last event, the client leaving,
the server stopping, an exception). `Gateway.close` is idempotent and these two are its only
callers, so no path can leak a concurrency slot, a reservation or a metadata row.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from ..errors import GatewayError, internal_error
from ..exchange import Exchange
from ..gateway import Gateway
from ..metering.record import Endpoint
from ..routing.router import StartedStream
from .wire import EventStream, exchange_headers

log = logging.getLogger(__name__)

Envelope = Callable[[GatewayError, Exchange | None], Response]
Serve = Callable[[Gateway, Exchange, Request], Awaitable[Response]]


async def handle(
    request: Request, endpoint: Endpoint, envelope: Envelope, serve: Serve
) -> Response:
    gw: Gateway = request.app.state.gateway
    try:
        ex = gw.begin(endpoint)
    except GatewayError as unavailable:
        return envelope(unavailable, None)
    error: GatewayError | None = None
    try:
        response = await serve(gw, ex, request)
    except GatewayError as refusal:
        error = refusal
    except Exception as exc:
        # The type only: an exception's message or locals could hold request content.
        log.error("unhandled error", extra={"error_type": type(exc).__name__})
        error = internal_error()
    except BaseException:
        await gw.close(ex, 499)  # cancelled before there was an answer to give
        raise
    if error is not None:
        response = envelope(error, ex)
    elif isinstance(response, EventStream):
        return response  # the stream closes the exchange when it ends
    await gw.close(ex, response.status_code, error)
    return response


def event_stream(
    gw: Gateway,
    ex: Exchange,
    started: StartedStream,
    events: AsyncGenerator[bytes, None],
    error_event: Callable[[GatewayError], bytes],
) -> EventStream:
    """The answer's events, with the exchange (and the provider's stream) closed at the end."""

    async def close(status: int, error: GatewayError | None) -> None:
        if status != 200 and not ex.usage.known:  # cut short on this side, not the provider's
            gw.settle_cut_short(ex, started.stream.usage)
        try:
            await gw.close(ex, status, error or ex.broken)
        finally:
            await started.stream.aclose()

    return EventStream(events, close=close, error_event=error_event, headers=exchange_headers(ex))
