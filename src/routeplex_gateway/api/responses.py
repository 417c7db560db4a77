"""OpenAI's Responses surface, stateless: `POST /v1/responses`, and the stored-response routes
(`GET`/`DELETE /v1/responses/{id}`, its `input_items`, `cancel`) answering that nothing is
stored.

A codec around the one pipeline (`pipeline.py`): the request decodes into the canonical
request (`responses_decode`), with the caller's body — `store` set false — as the
`NativeRequest` an OpenAI upstream can forward to its own Responses endpoint. An answer that
came from there is relayed as it came (`store` false, `x_routeplex` added); any other is
encoded from its typed parts and deltas (`responses_encode`, `responses_stream`). Errors use
OpenAI's envelope.

The gateway keeps no state by its data policy, so every response says `"store": false`
whatever was asked, and what would need a stored response is refused with the reason and
what to do instead: send the whole input.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from ..canonical import ChatResponse, ChatStream, Chunk, NativeRequest
from ..errors import ErrorCode, GatewayError
from ..exchange import Exchange
from ..gateway import Gateway
from ..metering.record import Endpoint
from .openai import error_response
from .openai_decode import WIRE as OPENAI_WIRE
from .pipeline import Decoded, run
from .responses_decode import SEALED_WIRE, WIRE, decode
from .responses_encode import answer, response_id
from .responses_stream import ResponseStream
from .wire import authenticate, exchange_headers, json_response

# An event's first line; only at the start or after a blank line is it one (a `data:` line's
# JSON holds no raw newline, while a text delta may well say "event: response.completed").
_TERMINAL = (b"event: response.completed\n", b"event: response.incomplete\n")
_SEQUENCE = re.compile(rb'"sequence_number":\s*(\d+)')
_STORED_TRUE = re.compile(rb'"store":\s*true')


def _headers(ex: Exchange) -> dict[str, str]:
    """The exchange's headers, and the answer's cost when it is known (a whole answer's is)."""
    headers = exchange_headers(ex)
    cost = ex.cost_usd
    if cost is not None:
        headers["X-RoutePlex-Cost-Usd"] = format(cost, "f")
    return headers


def _model_name(ex: Exchange) -> str:
    return ex.model.id if ex.model is not None else ""


def _sealed(ex: Exchange, decoded: Decoded) -> bool:
    """Whether thinking comes back sealed in `encrypted_content`: when the caller asked for
    it and the model speaks `SEALED_WIRE`, whose signature lets it take its thinking back
    (another's signature is not its to verify)."""
    asked = bool(decoded.options.get("sealed"))
    return asked and ex.deployment is not None and ex.deployment.kind == SEALED_WIRE


def _unstored(data: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's response object as the gateway answers it: nothing stored."""
    return {**data, "store": False}


class Responses:
    """The codec of `POST /v1/responses` (see `pipeline.Codec`)."""

    endpoint = Endpoint.OPENAI_RESPONSES
    models_listing = "GET /v1/models"

    def credential(self, request: Request) -> str | None:
        return request.headers.get("authorization")

    def decode(self, body: Any, headers: Headers) -> Decoded:
        decoded = decode(body)
        chat = decoded.chat
        chat.native = NativeRequest(wire=WIRE, body={**body, "store": False}, headers={})
        return Decoded(
            chat=chat,
            model=decoded.model,
            # OpenAI's models only (the routing narrowed to them, others refused by name).
            only_wire=OPENAI_WIRE if decoded.openai_only else None,
            only_reason=", ".join(decoded.openai_only),
            options={"sealed": decoded.encrypted_reasoning},
        )

    def answer(self, ex: Exchange, decoded: Decoded, response: ChatResponse) -> Response:
        native = response.native_for(WIRE)
        body = decoded.chat.native_for(WIRE) or {}
        if native is not None:
            out = _unstored(native)
        else:
            out = answer(
                response,
                body,
                ex.usage,
                request_id=ex.request_id,
                model=_model_name(ex),
                sealed=_sealed(ex, decoded),
            )
        out["x_routeplex"] = ex.routeplex_info()
        return json_response(orjson.dumps(out), 200, _headers(ex))

    def stream(self, ex: Exchange, decoded: Decoded) -> ResponseEvents:
        body = decoded.chat.native_for(WIRE) or {}
        return ResponseEvents(ex, body, sealed=_sealed(ex, decoded))

    def error(self, error: GatewayError, ex: Exchange | None = None) -> Response:
        return error_response(error, ex)


class ResponseEvents:
    """An answer's stream in the Responses events: OpenAI's own events as they came (the
    last one held until the usage is settled, to carry `x_routeplex`), or any other
    provider's deltas encoded (`ResponseStream`)."""

    def __init__(self, ex: Exchange, body: dict[str, Any], *, sealed: bool) -> None:
        self._ex = ex
        self._encoder = ResponseStream(
            body, request_id=ex.request_id, rid=response_id(ex.request_id), sealed=sealed
        )
        self._native = False
        self._held: bytes | None = None  # the upstream's terminal event, until close
        self._next = 0  # the sequence number after the last relayed one

    def open(self, stream: ChatStream, first: Chunk | None) -> bytes:
        if stream.wire == WIRE:
            self._native = True
            return self.chunk(first) if first is not None else b""
        opening = self._encoder.start(stream.model or _model_name(self._ex), stream.created)
        return opening + (self.chunk(first) if first is not None else b"")

    def chunk(self, chunk: Chunk) -> bytes:
        if not self._native:
            return self._encoder.chunk(chunk)
        raw = chunk.native
        if not raw:
            return b""
        numbers = _SEQUENCE.findall(raw)
        if numbers:
            self._next = int(numbers[-1]) + 1
        if _STORED_TRUE.search(raw):
            raw = _STORED_TRUE.sub(b'"store":false', raw)
        for marker in _TERMINAL:
            at = 0 if raw.startswith(marker) else raw.find(b"\n\n" + marker)
            if at > 0:
                at += 2
            if at >= 0:
                self._held = raw[at:]
                return raw[:at]
        return raw

    def close(self, stream: ChatStream) -> bytes:
        ex = self._ex
        held = self._held
        if self._native and held is not None:
            return _with_routeplex(held, ex.routeplex_info())
        if self._native:
            # The upstream ended without a terminal event: end the answer in full.
            self._encoder.seq = self._next
            opening = self._encoder.start(stream.model or _model_name(ex), stream.created)
            return opening + self._encoder.end(stream.finish_reason, ex.usage, ex.routeplex_info())
        return self._encoder.end(stream.finish_reason, ex.usage, ex.routeplex_info())

    def fail(self, error: GatewayError) -> bytes:
        if self._native:
            self._encoder.seq = max(self._encoder.seq, self._next)
        return self._encoder.fail(error)


def _with_routeplex(events: bytes, extra: dict[str, Any]) -> bytes:
    """The upstream's terminal event with `x_routeplex` on its response."""
    head, _, data = events.partition(b"\ndata: ")
    data, _, rest = data.partition(b"\n\n")
    payload = orjson.loads(data)
    response = payload.get("response")
    if isinstance(response, dict):
        payload["response"] = {**_unstored(response), "x_routeplex": extra}
    return head + b"\ndata: " + orjson.dumps(payload) + b"\n\n" + rest


CODEC = Responses()


async def create(request: Request) -> Response:
    return await run(request, CODEC)


async def stored(request: Request) -> Response:
    """`GET`/`DELETE /v1/responses/{id}`, `…/input_items`, `…/cancel`: there is nothing
    stored to read, delete or cancel."""
    gw: Gateway = request.app.state.gateway
    try:
        await authenticate(request, gw.keys)
    except GatewayError as error:
        return error_response(error)
    return error_response(
        GatewayError(
            ErrorCode.NOT_FOUND,
            "No such response: RoutePlex keeps no state (nothing of a request is stored, by "
            "its data policy), so a response cannot be fetched, listed, deleted or cancelled "
            "later. Keep what you need from the answer and send the whole input with each "
            'request (for reasoning models, with include: ["reasoning.encrypted_content"]).',
            param="response_id",
        )
    )
