"""Anthropic's Messages surface: `POST /v1/messages`, `POST /v1/messages/count_tokens`, and
`GET /v1/models` in Anthropic's shape for callers that send `anthropic-version`.

A codec around the one pipeline (`pipeline.py`): Messages requests decode into the canonical
request (`anthropic_decode`); an Anthropic upstream's answer and events are relayed as they
came, any other's typed parts and deltas encoded (`anthropic_encode`, `anthropic_stream`);
errors use Anthropic's envelope. Keys come in `x-api-key` (the anthropic SDK's header) or
`Authorization: Bearer`, both RoutePlex keys.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from ..canonical import ChatResponse, ChatStream, Chunk, NativeRequest
from ..data_policy import DataRequirement
from ..errors import ErrorCode, GatewayError, validation
from ..exchange import Exchange, new_request_id
from ..gateway import Gateway
from ..metering.record import Endpoint
from ..metering.tokens import counted_exactly, estimate_input_tokens
from ..routing.catalog import AUTO_MODEL, CatalogModel
from . import listing
from .anthropic_blocks import WIRE
from .anthropic_decode import decode
from .anthropic_encode import error_body, event, message
from .anthropic_stream import MessageStream
from .pipeline import Decoded, run
from .schemas.anthropic_messages import Conversation
from .wire import authenticate, data_requirement, exchange_headers, json_response, read_json

# The catalog has no release dates; one fixed, honest timestamp (the OpenAI listing's epoch).
_CREATED_AT = datetime.fromtimestamp(1_700_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
_DEFAULT_PAGE, _MAX_PAGE = 20, 1000


def addressed(request: Request) -> bool:
    """Whether a request speaks Anthropic's API: it says its version, as every Anthropic
    client does, or it is sent to a Messages path."""
    return "anthropic-version" in request.headers or request.url.path.startswith("/v1/messages")


def credential(request: Request) -> str | None:
    """`x-api-key` as an `Authorization` value, else `Authorization` itself."""
    key = request.headers.get("x-api-key")
    return f"Bearer {key}" if key is not None else request.headers.get("authorization")


def error_response(error: GatewayError, ex: Exchange | None = None) -> Response:
    headers = error.response_headers()
    request_id = None
    if ex is not None:
        headers.update(exchange_headers(ex))
        request_id = ex.request_id
    return json_response(orjson.dumps(error_body(error, request_id)), error.status, headers)


# Only these caller headers travel to an Anthropic upstream: the features they turn on are
# part of the request (the caller's own credentials and version never travel).
_FORWARDED_HEADERS = ("anthropic-beta",)


class Messages:
    """The codec of `POST /v1/messages` (see `pipeline.Codec`).

    To an Anthropic model the caller's own body goes as it came (`NativeRequest`: thinking
    signatures, cache_control, server tools and beta features intact) and its answer comes
    back as Anthropic sent it; to any other model the canonical translation goes, and what
    only Anthropic models can do narrows the routing to them.
    """

    endpoint = Endpoint.ANTHROPIC_MESSAGES
    models_listing = "GET /v1/models"

    def credential(self, request: Request) -> str | None:
        return credential(request)

    def decode(self, body: Any, headers: Headers) -> Decoded:
        decoded = decode(body)
        chat = decoded.chat
        forwarded = {h: headers[h] for h in _FORWARDED_HEADERS if h in headers}
        chat.native = NativeRequest(wire=WIRE, body=body, headers=forwarded)
        chat.cap_to_model = True
        return Decoded(
            chat=chat,
            model=decoded.model,
            only_wire=WIRE if decoded.untranslatable else None,
            only_reason=", ".join(decoded.untranslatable),
        )

    def answer(self, ex: Exchange, decoded: Decoded, response: ChatResponse) -> Response:
        native = response.native_for(WIRE)
        if native is not None:
            out = dict(native)
        else:
            out = message(response, ex.usage, _model_name(ex), ex.request_id)
        out["x_routeplex"] = ex.routeplex_info()
        return json_response(orjson.dumps(out), 200, exchange_headers(ex))

    def stream(self, ex: Exchange, decoded: Decoded) -> MessageEvents:
        return MessageEvents(ex, decoded.chat.native_for(WIRE) or {})

    def error(self, error: GatewayError, ex: Exchange | None = None) -> Response:
        return error_response(error, ex)


def _typical_size(body: dict[str, Any]) -> int:
    """The prompt's size at four characters a token, for `message_start` — a provisional
    count that `message_delta` replaces with the provider's. Not the admission bound: that
    upper bound (about one token per byte where no tokenizer is on disk) showed Claude Code
    contexts 4.7 times their size."""
    counted = {name: body[name] for name in ("messages", "tools") if name in body}
    return math.ceil(len(orjson.dumps(counted)) / 4)


def _model_name(ex: Exchange) -> str:
    return ex.model.id if ex.model is not None else ""


class MessageEvents:
    """An answer's stream in Anthropic's events: an Anthropic upstream's own events as they
    came, or the typed deltas of any other provider encoded into them."""

    def __init__(self, ex: Exchange, body: dict[str, Any]) -> None:
        self._ex = ex
        self._body = body
        self._encoder = MessageStream()
        self._native = False
        self._relayed = False  # whether any of the upstream's own bytes were sent

    def open(self, stream: ChatStream, first: Chunk | None) -> bytes:
        if stream.wire == WIRE:
            self._native = True
            return self.chunk(first) if first is not None else b""
        ex = self._ex
        opening = self._encoder.start(_model_name(ex), ex.request_id, _typical_size(self._body))
        return opening + (self.chunk(first) if first is not None else b"")

    def chunk(self, chunk: Chunk) -> bytes:
        if self._native:
            self._relayed = self._relayed or bool(chunk.native)
            return chunk.native or b""
        return self._encoder.chunk(chunk)

    def close(self, stream: ChatStream) -> bytes:
        if self._native and self._relayed:
            return b""  # the upstream's own message_delta and message_stop were relayed
        ex = self._ex
        # An upstream that ended without a byte of its own still gets a whole message.
        opening = (
            self._encoder.start(_model_name(ex), ex.request_id, _typical_size(self._body))
            if self._native
            else b""
        )
        return opening + self._encoder.end(stream.finish_reason, ex.usage)

    def fail(self, error: GatewayError) -> bytes:
        # Anthropic ends a failed stream with an error event (and no message_stop).
        return event("error", error_body(error, self._ex.request_id))


CODEC = Messages()


async def messages(request: Request) -> Response:
    return await run(request, CODEC)


async def count_tokens(request: Request) -> Response:
    """The prompt's input tokens, free: exact from Anthropic's own endpoint for an Anthropic
    model, else exact by o200k where that counts the model's tokens and is on disk, else the
    gateway's typical size of it (four characters a token; admission's upper bound would be
    several times a prompt's size, and an agent compacts its context by this count). Not a
    metered request, so it has no metadata row; it still has an id, like every answer."""
    gw: Gateway = request.app.state.gateway
    request_id = new_request_id()
    headers = {"request-id": request_id, "X-Request-Id": request_id}
    try:
        principal = await authenticate(request, gw.keys, credential(request))
        requirement = data_requirement(principal, request.headers)
        body = await read_json(request, gw.settings.max_body_bytes)
        decoded = decode(body, Conversation)  # Messages' request but its output cap
        name = decoded.model
        if name == AUTO_MODEL:
            model = gw.choice.auto_model(decoded.chat, "auto", max_output_tokens=1, test_mode=False)
        else:
            model = gw.choice.resolve(name, listing="GET /v1/models")
        forwarded = {h: request.headers[h] for h in _FORWARDED_HEADERS if h in request.headers}
        counted = await gw.router.count_tokens(
            model, body, forwarded, wire=WIRE, requirement=requirement
        )
    except GatewayError as error:
        response = json_response(
            orjson.dumps(error_body(error, headers["request-id"])),
            error.status,
            {**error.response_headers(), **headers},
        )
        return response
    if counted is None:
        exact = counted_exactly(model.provider)
        counted = estimate_input_tokens(decoded.chat, openai_only=exact, typical=True)
    return json_response(orjson.dumps({"input_tokens": counted}), 200, headers)


def _model_info(model: CatalogModel | None) -> dict[str, Any]:
    if model is None:
        return {
            "type": "model",
            "id": AUTO_MODEL,
            "display_name": "RoutePlex automatic routing",
            "created_at": _CREATED_AT,
        }
    return {
        "type": "model",
        "id": model.id,
        "display_name": model.display_name,
        "created_at": _CREATED_AT,
        "max_input_tokens": model.context_window,
        "max_tokens": model.max_output_tokens,
    }


def _listing(gw: Gateway, required: DataRequirement) -> list[dict[str, Any]]:
    served = [
        m
        for m in gw.catalog.available()
        # Messages serves chat models only.
        if gw.router.servable(m) and m.embedding is None and listing.listed(gw, m, required)
    ]
    # routeplex-ai routes only to models meeting the requirement: listed when one does.
    auto = [_model_info(None)] if served or not required else []
    return auto + [_model_info(m) for m in served]


def _page_size(raw: str | None) -> int:
    if raw is None:
        return _DEFAULT_PAGE
    if not raw.isdecimal() or not 1 <= int(raw) <= _MAX_PAGE:
        raise validation(f"'limit' must be an integer from 1 to {_MAX_PAGE}.", "limit")
    return int(raw)


def _cursor(ids: list[str], raw: str, name: str) -> int:
    try:
        return ids.index(raw)
    except ValueError:
        raise validation(f"'{name}' must be the id of a listed model.", name) from None


async def list_models(request: Request) -> Response:
    """Anthropic's model list: newest-first paging by `after_id` / `before_id`, `limit`."""
    gw: Gateway = request.app.state.gateway
    try:
        principal = await authenticate(request, gw.keys, credential(request))
        query = request.query_params
        limit = _page_size(query.get("limit"))
        models = _listing(gw, listing.requirement(request, principal))
        ids = [m["id"] for m in models]
        after, before = query.get("after_id"), query.get("before_id")
        if before is not None:
            end = _cursor(ids, before, "before_id")
            page = models[max(0, end - limit) : end]
            has_more = end - limit > 0
        else:
            start = _cursor(ids, after, "after_id") + 1 if after is not None else 0
            page = models[start : start + limit]
            has_more = start + limit < len(models)
    except GatewayError as error:
        return error_response(error)
    body = {
        "data": page,
        "has_more": has_more,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
    }
    return json_response(orjson.dumps(body))


async def get_model(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    try:
        await authenticate(request, gw.keys, credential(request))
        name = request.path_params["model_id"]
        model = None if name == AUTO_MODEL else gw.catalog.resolve(name)
        if name != AUTO_MODEL and (model is None or not gw.router.servable(model)):
            raise GatewayError(
                ErrorCode.NOT_FOUND, "No such model here; GET /v1/models lists the models served."
            )
    except GatewayError as error:
        return error_response(error)
    return json_response(orjson.dumps(_model_info(model)))
