"""The HTTP/1.1 connection as `routeplex serve` runs it: uvicorn's httptools protocol, with
bounds on what one client can make the process hold.

uvicorn bounds none of these on its own (its h11 parser caps an incomplete event's size, but
answers 400 and is slower): a single 200 MB header was read into memory, 20,000 headers were
accepted, and a connection sending one byte every few seconds stayed open for as long as it
liked. Here:

- the request line and headers are bounded in size per line, in total and in number — 414 for
  the request line, 431 for headers, refused as soon as the bound is passed (not after reading
  whatever was sent);
- the request line and headers must arrive within `header_timeout_s` of the request's first
  byte (or of the connection opening) — 408; a connection that sent nothing is just closed;
- the body must arrive within `body_timeout_s` of the headers: past it, this protocol wakes the
  app's pending read, which answers 408 in its own envelope (`api.wire.BodyDeadline`), and
  closes the connection a moment later if the body is still coming (the app answered without
  reading it, say);
- connections past `max_connections` open at once get 503 and are closed, and have only
  `_OVER_CAPACITY_S` to send their headers (then 503 if they began a request, else just closed):
  otherwise a client opening connections that send nothing or half a header would hold
  sockets past the cap for the whole header timeout (measured: 304 sockets held against a cap
  of 20). uvicorn's own `limit_concurrency` refuses from the N-th connection rather than past
  it, and also refuses requests on connections it already accepted;
- idle keep-alive is uvicorn's own `timeout_keep_alive`.

Refusals made here, before the app sees a request, are in the envelope of the path asked for
(OpenAI's on `/v1`, the native one elsewhere), say nothing of what was sent, and end the
connection: the response, then a short linger reading and dropping what the client still
sends (so the response is not lost to a TCP reset), then close. None of these bounds apply to
sending a response: a stream runs as long as it runs.

Deadlines are checked by one sweep per server every `_SWEEP_S`, not by a timer per request: a
request then costs two attribute writes, where arming and cancelling timers measured ~7 µs per
request on uvloop (a few percent of the gateway's own time per request). A bound is
therefore enforced up to `_SWEEP_S` late.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from .api.departure import DEPARTURE
from .config import Settings
from .errors import ErrorCode, GatewayError

# How long a refused connection is drained before it is closed: enough for the client to read
# the refusal, short enough that it cannot hold the connection with it.
_LINGER_S = 2.0
# The app answers a slow body itself; the connection is closed only if that did not end it.
_BODY_BACKSTOP_S = 1.0
_SWEEP_S = 0.25
# What a connection past the cap gets to send its headers (less if the header bound is
# shorter): enough for a client that sends its request on connecting to be told 503 in its
# own envelope, short enough that the sockets held past the cap stay few.
_OVER_CAPACITY_S = 0.5
_SECURITY_HEADERS = b"x-content-type-options: nosniff\r\ncache-control: no-store\r\n"


@dataclass(frozen=True, slots=True)
class HttpBounds:
    max_header_line_bytes: int
    max_header_bytes: int
    max_headers: int
    header_timeout_s: float
    body_timeout_s: float
    max_connections: int

    @classmethod
    def of(cls, settings: Settings) -> HttpBounds:
        return cls(
            max_header_line_bytes=settings.max_header_line_bytes,
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
            header_timeout_s=settings.header_timeout_s,
            body_timeout_s=settings.body_timeout_s,
            max_connections=settings.max_connections,
        )


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the refusal is on the protocol."""


def _too_large_headers() -> GatewayError:
    return GatewayError(
        ErrorCode.HEADERS_TOO_LARGE,
        "The request's headers are too large or too many.",
    )


def _too_many_connections() -> GatewayError:
    return GatewayError(
        ErrorCode.TOO_MANY_CONNECTIONS,
        "The gateway has too many connections open; retry shortly.",
        retry_after_s=1,
    )


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the bounds above. One per connection."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        bounds: HttpBounds,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.bounds = bounds
        self._deadline: float | None = None  # for the headers, or the body, whichever is due
        self._in_head = False  # between a request's first byte and the end of its headers
        self._in_body = False  # between the end of the headers and the end of the body
        self._head_bytes = 0  # of the request line and headers seen so far
        self._header_count = 0
        self._over_capacity = False
        self._refusal: GatewayError | None = None
        self._lingering = False

    # --- the connection -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Decided once, on arrival: connections already being served keep being served.
        self._over_capacity = len(self.connections) > self.bounds.max_connections
        self._deadline = self.loop.time() + self._header_allowance()
        _Sweep.ensure(self.server_state, self.loop)

    def connection_lost(self, exc: Exception | None) -> None:
        cycle = self.cycle
        super().connection_lost(exc)
        # The app's callback for a client gone mid-request (`api/departure.py`): told here,
        # where uvicorn learns it, rather than by a task per request reading `receive`.
        if cycle is not None and not cycle.response_complete:
            left = cycle.scope.get(DEPARTURE)
            if callable(left):
                left()

    def data_received(self, data: bytes) -> None:
        # uvicorn's, with the refusals made in the parser's callbacks answered here.
        if self._lingering:
            return  # the rest of a refused request: read and dropped
        self._unset_keepalive_if_required()
        continuing_head = self._in_head
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(self._refusal)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        # A header still incomplete is held by the parser, unseen by the callbacks: count what
        # arrived for it (a chunk that also began the request is left out — the callbacks will
        # count it exactly — so a pipelined request's tail is never taken for headers).
        if continuing_head and self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > self.bounds.max_header_bytes:
                self._refuse(_too_large_headers())

    # --- the parser's callbacks -----------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[DEPARTURE] = None  # type: ignore[literal-required]  # offered to the app
        self._in_head = True
        self._head_bytes = 0
        self._header_count = 0
        if not self._over_capacity:  # an over-capacity connection's clock runs from arrival
            self._deadline = self.loop.time() + self._header_allowance()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_bytes += len(url)
        if len(self.url) > self.bounds.max_header_line_bytes:
            self._stop(GatewayError(ErrorCode.URI_TOO_LONG, "The request's URL is too long."))

    def on_header(self, name: bytes, value: bytes) -> None:
        line = len(name) + len(value) + 4  # "name: value\r\n"
        self._head_bytes += line
        self._header_count += 1
        if (
            line > self.bounds.max_header_line_bytes
            or self._head_bytes > self.bounds.max_header_bytes
            or self._header_count > self.bounds.max_headers
        ):
            self._stop(_too_large_headers())
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._deadline = None
        if self._over_capacity:
            self._stop(_too_many_connections())
        super().on_headers_complete()
        # Cleared by the end of the message, which for a request without a body is now.
        self._in_body = True
        self._deadline = self.loop.time() + self.bounds.body_timeout_s

    def on_message_complete(self) -> None:
        self._in_body = False
        self._deadline = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        starts_next = bool(self.pipeline)
        super().on_response_complete()
        if starts_next and self._in_body:
            # A pipelined request has just started (its body was not read while it waited):
            # its clock starts now, as the app's does.
            self._deadline = self.loop.time() + self.bounds.body_timeout_s

    # --- deadlines ------------------------------------------------------------------------
    def _header_allowance(self) -> float:
        if self._over_capacity:
            return min(self.bounds.header_timeout_s, _OVER_CAPACITY_S)
        return self.bounds.header_timeout_s

    def check_deadline(self, now: float) -> None:
        """Called by the sweep: act on a deadline that has passed."""
        if self._deadline is None or now < self._deadline or self.transport.is_closing():
            return
        if self._in_head:
            self._refuse(
                _too_many_connections()
                if self._over_capacity
                else GatewayError(ErrorCode.REQUEST_TIMEOUT, "The request's headers took too long.")
            )
        elif self._in_body:
            self._body_late(now - self._deadline)
        else:
            self._deadline = None
            self.transport.close()  # opened, and nothing sent: nothing to answer

    def _body_late(self, late_s: float) -> None:
        if self.pipeline:
            return  # reading is paused behind an earlier request: nothing trickles in
        cycle = self.cycle
        if not cycle.response_started:
            # Wake the app's pending read of the body: its BodyDeadline answers 408 (and says
            # Connection: close). Should the app not be reading, close after a grace period.
            cycle.message_event.set()
            if late_s >= _BODY_BACKSTOP_S:
                self.transport.close()
        elif not cycle.response_complete:
            # The app answered without the body and is still sending: end after it.
            cycle.keep_alive = False
            self._deadline = None
        else:
            self.transport.close()  # answered, and the body is still trickling in

    # --- refusals -------------------------------------------------------------------------
    def _stop(self, refusal: GatewayError) -> None:
        self._refusal = refusal
        raise _Refused

    def _refuse(self, refusal: GatewayError) -> None:
        """Answer `refusal` (if no response is under way here) and end the connection."""
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # A pipelined request's refusal would land inside the response being sent.
            self.transport.close()
            return
        self.transport.write(self._response(refusal))
        self._lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(_LINGER_S, self.transport.close)
        else:
            self.transport.close()

    def _response(self, refusal: GatewayError) -> bytes:
        path = getattr(self, "url", b"").split(b"?", 1)[0]  # set on a request's first byte
        openai = path == b"/v1" or path.startswith(b"/v1/")
        body = refusal.openai_body() if openai else refusal.native_body()
        head = [STATUS_LINE[refusal.status]]
        head += [f"{k}: {v}\r\n".encode() for k, v in refusal.response_headers().items()]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n",
            _SECURITY_HEADERS,
            b"\r\n",
        ]
        return b"".join([*head, body])


class _Sweep:
    """Checks the deadlines of one server's connections every `_SWEEP_S`, while it has any."""

    _running: ClassVar[weakref.WeakKeyDictionary[ServerState, _Sweep]] = weakref.WeakKeyDictionary()

    def __init__(self, state: ServerState, loop: asyncio.AbstractEventLoop) -> None:
        self._state = weakref.ref(state)  # the registry's key: held weakly here too
        self._loop = loop
        loop.call_later(_SWEEP_S, self._run)

    @classmethod
    def ensure(cls, state: ServerState, loop: asyncio.AbstractEventLoop) -> None:
        if state not in cls._running:
            cls._running[state] = cls(state, loop)

    def _run(self) -> None:
        state = self._state()
        if state is None:
            return
        if not state.connections:
            del self._running[state]  # the next connection starts another
            return
        now = self._loop.time()
        for connection in list(state.connections):
            if isinstance(connection, BoundedHttpProtocol):
                connection.check_deadline(now)
        self._loop.call_later(_SWEEP_S, self._run)
