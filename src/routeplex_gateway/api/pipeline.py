"""A chat request's life, written once for every surface, and closed exactly once.

authenticate → decode → route → admit → forward (with fallback) → relay → settle → record.
Each surface (OpenAI's Chat Completions, the native API, Anthropic's Messages) is a `Codec`
around this one life: it names the header its key comes in, decodes its wire request into
the canonical `ChatRequest`, and encodes the answer, the stream's events and every error in
its own wire shape. No codec takes a step of the life itself, so the failure paths hold for
every surface by construction.

`run` opens the exchange and closes it with the status of what it answered: the answer, a
refusal, or — for an exception nobody expected — a 500 in the codec's envelope. A stream's
exchange is handed over to its `EventStream`, which closes it when the stream ends, whatever
ends it (the last event, the client leaving, the server stopping, an exception).
`Gateway.close` is idempotent and these two are its only callers, so no path can leak a
concurrency slot, a reservation or a metadata row.

An embeddings surface is an `EmbeddingCodec`: its decoded request is an `EmbeddingRequest`,
whose life (`_embed`: route, admit, the router's `embed`, settle) `run` opens and closes
exactly like a chat request's.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from .. import embedding_steps
from ..canonical import (
    ChatRequest,
    ChatResponse,
    ChatStream,
    Chunk,
    EmbeddingRequest,
    EmbeddingResponse,
    Usage,
)
from ..errors import ErrorCode, GatewayError, internal_error
from ..exchange import Exchange
from ..gateway import Gateway
from ..metering.record import Endpoint
from ..providers import public_name
from ..routing.router import StartedStream
from .departure import Departure
from .validation import truthy, validate_strategy
from .wire import EventStream, authenticate, data_requirement, exchange_headers, read_json

log = logging.getLogger(__name__)


@dataclass(slots=True, kw_only=True)
class Decoded:
    """A surface's request in canonical form, with the routing options it carried."""

    chat: ChatRequest
    model: str
    # Set by surfaces whose body can carry them (the native API); the X-RoutePlex-* headers
    # apply otherwise.
    strategy: str | None = None
    test_mode: bool = False
    # Set when the request uses what only one wire format's models can serve (Anthropic's
    # server tools, say): the routing is narrowed to them, `only_reason` naming the features.
    only_wire: str | None = None
    only_reason: str = ""
    # What only the codec itself reads back when it encodes (never request content).
    options: dict[str, Any] = field(default_factory=dict)


class StreamEncoder(Protocol):
    """One stream's events in a surface's wire shape (each method returns ready-framed
    bytes, possibly none)."""

    def open(self, stream: ChatStream, first: Chunk | None) -> bytes:
        """The stream's opening (`stream` says what answers: its wire format, id, model),
        with the first chunk when the provider sent one."""
        ...

    def chunk(self, chunk: Chunk) -> bytes: ...

    def close(self, stream: ChatStream) -> bytes:
        """The end of a complete answer; the exchange's usage is settled by then."""
        ...

    def fail(self, error: GatewayError) -> bytes:
        """The end of a stream that failed after its first byte: too late for a status."""
        ...


class Codec(Protocol):
    endpoint: Endpoint
    models_listing: str  # where this surface lists its models ("did you mean" hints)

    def credential(self, request: Request) -> str | None:
        """The `Authorization`-style value carrying the caller's key."""
        ...

    def decode(self, body: Any, headers: Headers) -> Decoded: ...

    def answer(self, ex: Exchange, decoded: Decoded, response: ChatResponse) -> Response: ...

    def stream(self, ex: Exchange, decoded: Decoded) -> StreamEncoder: ...

    def error(self, error: GatewayError, ex: Exchange | None = None) -> Response: ...


async def run(request: Request, codec: Codec | EmbeddingCodec) -> Response:
    gw: Gateway = request.app.state.gateway
    try:
        ex = gw.begin(codec.endpoint)
    except GatewayError as unavailable:
        return codec.error(unavailable)
    error: GatewayError | None = None
    departure = Departure(request)
    try:
        try:
            if isinstance(codec, EmbeddingCodec):
                response = await _embed(gw, ex, departure.request, codec)
            else:
                response = await _serve(gw, ex, departure.request, codec)
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
        response = codec.error(error, ex)
    elif isinstance(response, EventStream):
        return response  # the stream closes the exchange when it ends
    if departure.gone:  # it left as the answer came: billed in full, but never delivered
        departure.forget_cancel()
        await gw.close(ex, 499, error)
        return response
    await gw.close(ex, response.status_code, error)
    return response


async def _serve(gw: Gateway, ex: Exchange, request: Request, codec: Codec) -> Response:
    ex.principal = await authenticate(request, gw.keys, codec.credential(request))
    headers = request.headers
    ex.data_requirement = data_requirement(ex.principal, headers)
    decoded = codec.decode(await read_json(request, gw.settings.max_body_bytes), headers)
    chat = decoded.chat
    strategy = decoded.strategy or validate_strategy(
        headers.get("x-routeplex-strategy"), "X-RoutePlex-Strategy"
    )
    plan = await gw.route(
        ex,
        chat,
        decoded.model,
        strategy=strategy,
        test_mode=decoded.test_mode or truthy(headers.get("x-routeplex-test-mode")),
        debug=truthy(headers.get("x-routeplex-debug")),
        listing=codec.models_listing,
        wire=decoded.only_wire,
    )
    if decoded.only_wire is not None and not plan:
        raise _only_elsewhere(decoded, codec.models_listing)
    await gw.admit(ex, chat, plan)
    if chat.stream:
        started = await gw.router.open_stream(ex, chat, plan)
        return _event_stream(gw, ex, started, codec.stream(ex, decoded))
    response = await gw.router.complete(ex, chat, plan)
    gw.settle(ex, response.usage)
    return codec.answer(ex, decoded, response)


def _only_elsewhere(decoded: Decoded, listing: str) -> GatewayError:
    """The request needs a wire format none of the models it may go to speaks."""
    family = public_name(decoded.only_wire or "")
    return GatewayError(
        ErrorCode.VALIDATION_ERROR,
        f"This request uses {decoded.only_reason}, which only '{family}' models serve, and "
        f"the model asked for is not one. {listing} lists the models and their providers.",
        param="model",
    )


def _event_stream(
    gw: Gateway, ex: Exchange, started: StartedStream, encoder: StreamEncoder
) -> EventStream:
    """The answer's events, with the exchange (and the provider's stream) closed at the end."""

    async def close(status: int, error: GatewayError | None) -> None:
        if status != 200 and not ex.usage.known:  # cut short on this side, not the provider's
            gw.settle_cut_short(ex, started.stream.usage)
        try:
            await gw.close(ex, status, error or ex.broken)
        finally:
            await started.stream.aclose()

    return EventStream(
        _relay(gw, ex, started, encoder),
        close=close,
        fail=encoder.fail,
        headers=exchange_headers(ex),
    )


async def _relay(
    gw: Gateway, ex: Exchange, started: StartedStream, encoder: StreamEncoder
) -> AsyncGenerator[bytes, None]:
    """The provider's chunks, encoded; the answer's text kept (in memory) for the charge of
    a stream cut short, and chunks that arrived together written together."""
    relayed = ex.relayed
    first = started.first
    if first is not None:
        relayed.append(first.generated())
    opening = encoder.open(started.stream, first)
    if opening:
        ex.first_byte()
        yield opening
    held: list[bytes] = []
    try:
        async for chunk in started.rest:
            relayed.append(chunk.generated())
            held.append(encoder.chunk(chunk))
            if not chunk.more:
                joined = b"".join(held)
                held.clear()
                if joined:
                    yield joined
    except GatewayError as broken:
        # Past the first byte there is no retrying: end the stream the surface's way.
        ex.broken = broken
        gw.settle(ex, started.stream.usage)
        held.append(encoder.fail(broken))
        yield b"".join(held)
        return
    gw.settle(ex, started.stream.usage)
    held.append(encoder.close(started.stream))
    yield b"".join(held)


# --- embedding requests ----------------------------------------------------------------------
# The same life for a surface whose requests are embedding requests: no stream, no output to
# reserve; `run` opens and closes its exchange exactly as a chat request's.


@dataclass(slots=True, kw_only=True)
class DecodedEmbedding:
    """An embeddings surface's request in canonical form, with the model it names."""

    embedding: EmbeddingRequest
    model: str


class EmbeddingCodec(ABC):
    """An embeddings surface (see `Codec`): it decodes its wire request into the canonical
    `EmbeddingRequest` and encodes the vectors and every error in its own shape."""

    endpoint: Endpoint
    models_listing: str

    @abstractmethod
    def credential(self, request: Request) -> str | None: ...

    @abstractmethod
    def decode(self, body: Any, headers: Headers) -> DecodedEmbedding: ...

    @abstractmethod
    def answer(
        self, ex: Exchange, decoded: DecodedEmbedding, response: EmbeddingResponse
    ) -> Response: ...

    @abstractmethod
    def error(self, error: GatewayError, ex: Exchange | None = None) -> Response: ...


async def _embed(gw: Gateway, ex: Exchange, request: Request, codec: EmbeddingCodec) -> Response:
    ex.principal = await authenticate(request, gw.keys, codec.credential(request))
    headers = request.headers
    ex.data_requirement = data_requirement(ex.principal, headers)
    decoded = codec.decode(await read_json(request, gw.settings.max_body_bytes), headers)
    embedding = decoded.embedding
    plan = await embedding_steps.route(
        gw,
        ex,
        embedding,
        decoded.model,
        test_mode=truthy(headers.get("x-routeplex-test-mode")),
        debug=truthy(headers.get("x-routeplex-debug")),
        listing=codec.models_listing,
    )
    await embedding_steps.admit(gw, ex, embedding, plan)
    response = await gw.router.embed(ex, embedding, plan)
    embedding_steps.settle(gw, ex, embedding, response)
    return codec.answer(ex, decoded, response)
