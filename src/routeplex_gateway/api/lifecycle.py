"""A chat request's life in either dialect, closed exactly once however it ends.

`handle` opens the exchange, runs the dialect's `serve`, and closes the exchange with the
status of what it answered: the answer, a refusal, or — for an exception nobody expected —
a 500 in the dialect's envelope. A stream's exchange is handed over to its `EventStream`,
which closes it when the stream ends, whatever ends it (the last event, the client leaving,
the server stopping, an exception). `Gateway.close` is idempotent and these two are its only
callers, so no path can leak a concurrency slot, a reservation or a metadata row.

A client that leaves before a plain answer is noticed too (`Departure`): the request is
cancelled where it waits — on the provider, most often — and closed at once with 499,
charged like a stream cut short, instead of holding its slot until the provider answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from ..canonical import Usage
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
    departure = Departure(request)
    try:
        try:
            response = await serve(gw, ex, departure.request)
        finally:
            departure.stop()  # before any other await: a later cancel would hit no request
    except GatewayError as refusal:
        error = refusal
    except Exception as exc:
        # The type only: an exception's message or locals could hold request content.
        log.error("unhandled error", extra={"error_type": type(exc).__name__})
        error = internal_error()
    except asyncio.CancelledError:
        if not departure.gone:
            await gw.close(ex, 499)  # the server stopping before there was an answer to give
            raise
        departure.forget_cancel()
        if ex.attempts and not ex.usage.known:
            # The provider had the prompt, and bills it even when the answer is abandoned.
            gw.settle_cut_short(ex, Usage())
        await gw.close(ex, 499)
        return Response(status_code=499)  # for no one: the connection is gone
    except BaseException:
        await gw.close(ex, 499)  # cancelled before there was an answer to give
        raise
    if error is not None:
        response = envelope(error, ex)
    elif isinstance(response, EventStream):
        return response  # the stream closes the exchange when it ends
    if departure.gone:  # it left as the answer came: billed in full, but never delivered
        departure.forget_cancel()
        await gw.close(ex, 499, error)
        return response
    await gw.close(ex, response.status_code, error)
    return response


class Departure:
    """Watches for the client leaving while its request is served, and cancels the serving
    task when it does.

    Listening starts once the body has been read whole — `request` is the one to read it
    from — since until then the body's own messages say it. `stop` it as soon as serving
    ends: a stream's response listens on the connection itself from there on.
    """

    def __init__(self, request: Request) -> None:
        self._receive = request.receive
        self._read = asyncio.Event()
        self.gone = False
        self.request = Request(request.scope, self._received)
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._watcher = asyncio.ensure_future(self._watch())

    async def _received(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            self._read.set()
        return message

    async def _watch(self) -> None:
        await self._read.wait()
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.gone = True
        self._task.cancel()

    def stop(self) -> None:
        self._watcher.cancel()

    def forget_cancel(self) -> None:
        """The cancel was this watcher's, and is handled: the task goes on uncancelled."""
        self._task.uncancel()


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
