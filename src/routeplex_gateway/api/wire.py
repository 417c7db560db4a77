"""HTTP plumbing the surfaces share: bounded JSON bodies, JSON responses, and an SSE
response that notices a client going away and always closes its event source.

Bodies are read into memory only, up to `max_body_bytes`; nothing is spooled to disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ..auth import KeyCache, Principal
from ..data_policy import DataPolicyError, DataRequirement
from ..errors import ErrorCode, GatewayError, internal_error, validation
from ..exchange import Exchange
from .departure import on_departure

log = logging.getLogger(__name__)

_JSON = "application/json"


async def read_json(request: Request, max_bytes: int) -> Any:
    """The request body parsed as JSON, or a GatewayError saying what is wrong with it."""
    content_type = request.headers.get("content-type", _JSON).split(";")[0].strip().lower()
    if content_type not in (_JSON, "") and not content_type.endswith("+json"):
        raise GatewayError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            "The request body must be JSON (Content-Type: application/json).",
        )
    declared = request.headers.get("content-length")
    # isdecimal, not isdigit ("²" is a digit int() refuses); past 18 digits it is too large.
    if (
        declared is not None
        and declared.isdecimal()
        and (len(declared) > 18 or int(declared) > max_bytes)
    ):
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(max_bytes)
            chunks.append(chunk)
    except ClientDisconnect:
        raise GatewayError(ErrorCode.BAD_REQUEST, "The client closed the request.") from None
    raw = b"".join(chunks)
    if not raw:
        raise GatewayError(ErrorCode.BAD_REQUEST, "The request body is empty; send JSON.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        # Deliberately no position or excerpt: the excerpt would be the caller's content.
        raise GatewayError(ErrorCode.BAD_REQUEST, "The request body is not valid JSON.") from None


def _too_large(max_bytes: int) -> GatewayError:
    return GatewayError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"The request body exceeds the limit of {max_bytes} bytes.",
        details={"max_bytes": max_bytes},
    )


def json_response(
    content: bytes, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(content, status_code=status, headers=headers, media_type=_JSON)


Closer = Callable[[int, GatewayError | None], Awaitable[None]]


class EventStream(Response):
    """`text/event-stream` from an async generator of ready-framed bytes, which owns the
    request from its first event to its close.

    However the stream ends, `close` is called once with its status: 200 when the last event
    was sent (even if the client leaves the moment after), 499 when the client went away
    before, 500 after an unexpected exception, 503 when the server's shutdown grace ran
    out — the last two after telling the client so in an error event. When the client
    disconnects, the generator is cancelled and closed at once, so the upstream request stops.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncGenerator[bytes, None],
        *,
        close: Closer,
        fail: Callable[[GatewayError], bytes],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        # Like StreamingResponse: no Content-Length, the body is open-ended.
        self.status_code = 200
        self.background = None
        self.init_headers(
            {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})}
        )
        self._events = events
        self._close = close
        self._fail = fail
        self._started = False
        self._delivered = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The events are pumped in this task, which is cancelled if the client goes away
        # (uvicorn's send() ignores a gone client, so pumping alone would never notice while
        # the upstream keeps it waiting).
        pumping = asyncio.current_task()
        assert pumping is not None
        gone = False

        def left() -> None:
            nonlocal gone
            gone = True
            pumping.cancel()

        stop_listening = on_departure(scope, receive, left)
        status, error = 499, None
        try:
            await self._pump(send)
        except asyncio.CancelledError:
            pumping.uncancel()
            if not gone:
                # Not the client leaving: the server stopping, its shutdown grace over.
                status, error = 503, shutting_down()
                await self._end(send, error)
        except Exception as exc:
            log.error("unhandled error", extra={"error_type": type(exc).__name__})
            status, error = 500, internal_error()
            with contextlib.suppress(Exception):
                await self._end(send, error)
        finally:
            stop_listening()
            if self._delivered:
                status, error = 200, None
            try:
                await self._events.aclose()
            finally:
                await self._close(status, error)

    async def _pump(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        self._started = True
        async for event in self._events:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        self._delivered = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _end(self, send: Send, error: GatewayError) -> None:
        """End the stream early the surface's way (`fail`: an error event, and OpenAI's
        [DONE] where the surface has one)."""
        if not self._started:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
        body = self._fail(error)
        await send({"type": "http.response.body", "body": body, "more_body": False})


def shutting_down() -> GatewayError:
    return GatewayError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        "The gateway is shutting down; the answer was cut short. Retry the request.",
        retryable=True,
    )


def exchange_headers(ex: Exchange) -> dict[str, str]:
    """The headers every chat response carries, answer or refusal, on every surface: the
    request id under its usual name and Anthropic's (`request-id`, which the anthropic SDK
    reads), the gateway's own overhead, and — once a provider was asked — the data policy of
    the deployment that answered (or was asked last)."""
    headers = {
        "X-Request-Id": ex.request_id,
        "request-id": ex.request_id,
        "X-RoutePlex-Overhead-Ms": f"{ex.overhead_ms():.3f}",
    }
    if ex.deployment is not None:
        headers["X-RoutePlex-Data-Policy"] = ex.deployment.data_policy_label
    return headers


DATA_POLICY_HEADER = "x-routeplex-data-policy"


def data_requirement(principal: Principal | None, headers: Headers) -> DataRequirement | None:
    """What the request requires downstream: its key's and account's requirement (none
    without a key: the unauthenticated model listing), narrowed by an
    `X-RoutePlex-Data-Policy` header (which can never loosen it)."""
    own = principal.data_requirement if principal is not None else None
    asked = headers.getlist(DATA_POLICY_HEADER)
    if not asked:
        return own
    try:
        # Sent on several lines, the header is one comma-separated list (RFC 9110 §5.3):
        # reading the first line alone would drop the conditions on the others.
        narrowed = DataRequirement.parse(", ".join(asked))
    except DataPolicyError as bad:
        raise validation(f"X-RoutePlex-Data-Policy: {bad}.", "X-RoutePlex-Data-Policy") from None
    return narrowed.narrow(own) or None


def sse(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


class BodyDeadline:
    """An ASGI `receive` that gives the request body until `timeout_s` after the request reached
    the app: a read of the body that returns past it is refused with 408 (`request_timeout`) in
    the surface's envelope, saying `Connection: close` (the rest is never read). Under `serve`,
    the connection (`protocol.py`) wakes a read still waiting at the deadline; no timer is
    armed here, so a request whose body is already in costs a clock read. Once the body is in,
    this is the plain `receive`: a stream's disconnect watch is not on this clock."""

    __slots__ = ("_clock", "_deadline", "_reading", "_receive")

    def __init__(self, receive: Receive, timeout_s: float) -> None:
        self._receive = receive
        self._clock = asyncio.get_running_loop().time
        self._deadline = self._clock() + timeout_s
        self._reading = True

    async def __call__(self) -> Message:
        message = await self._receive()
        if self._reading:
            if message["type"] != "http.request" or not message.get("more_body", False):
                self._reading = False
            elif self._clock() >= self._deadline:
                raise GatewayError(
                    ErrorCode.REQUEST_TIMEOUT,
                    "The request body took too long to arrive.",
                    headers={"Connection": "close"},
                )
        return message


def client_address(request: Request) -> str | None:
    """The peer's address, for per-address limits held in memory only (never stored)."""
    return request.client.host if request.client is not None else None


async def authenticate(
    request: Request, keys: KeyCache, credential: str | None = None
) -> Principal:
    """The caller's key — from `credential` when the surface has its own header for it, else
    `Authorization` — checked in memory; failures count against the client's address."""
    if credential is None:
        credential = request.headers.get("authorization")
    return await keys.authenticate(credential, client_address(request))
