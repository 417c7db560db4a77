"""The OpenAI dialect: `POST /v1/chat/completions` and `GET /v1/models`.

Responses are OpenAI's own shapes (validated against OpenAI's schema in the tests) plus an
`x_routeplex` object; errors use OpenAI's envelope with RoutePlex codes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..errors import ErrorCode, GatewayError
from ..exchange import Exchange
from ..gateway import Gateway
from ..metering.record import Endpoint
from ..routing.catalog import AUTO_MODEL
from ..routing.router import StartedStream
from .lifecycle import event_stream, handle
from .validation import truthy, validate_chat_body, validate_strategy
from .wire import (
    SSE_DONE,
    authenticate,
    exchange_headers,
    json_response,
    read_json,
    sse,
)

_MODELS_CREATED = 1_700_000_000  # the catalog has no creation dates; a fixed, honest epoch


# OpenAI endpoints a newcomer's code may call that RoutePlex does not serve, by path prefix.
_NOT_SERVED = {
    "/v1/completions": "legacy Completions API",
    "/v1/embeddings": "Embeddings API",
    "/v1/responses": "Responses API",
    "/v1/images": "Images API",
    "/v1/audio": "Audio API",
    "/v1/moderations": "Moderations API",
    "/v1/files": "Files API",
    "/v1/uploads": "Uploads API",
    "/v1/batches": "Batch API",
    "/v1/fine_tuning": "Fine-tuning API",
    "/v1/assistants": "Assistants API",
    "/v1/threads": "Assistants API",
    "/v1/vector_stores": "Assistants API",
    "/v1/realtime": "Realtime API",
}


def not_served(path: str) -> GatewayError:
    """A 404 for a /v1 path, naming what is served instead (never the path sent)."""
    what = next(
        (f"OpenAI's {name}" for prefix, name in _NOT_SERVED.items() if path.startswith(prefix)),
        "this endpoint",
    )
    return GatewayError(
        ErrorCode.NOT_FOUND,
        f"RoutePlex does not serve {what}. It serves OpenAI's Chat Completions at "
        "POST /v1/chat/completions, and the model list at GET /v1/models.",
    )


def error_response(error: GatewayError, ex: Exchange | None = None) -> Response:
    headers = error.response_headers()
    if ex is not None:
        headers.update(exchange_headers(ex))
    return json_response(error.openai_body(), error.status, headers)


async def chat_completions(request: Request) -> Response:
    return await handle(request, Endpoint.OPENAI_CHAT, error_response, _serve)


async def _serve(gw: Gateway, ex: Exchange, request: Request) -> Response:
    ex.principal = await authenticate(request, gw.keys)
    body = await read_json(request, gw.settings.max_body_bytes)
    chat = validate_chat_body(body)
    strategy = validate_strategy(
        request.headers.get("x-routeplex-strategy"), "X-RoutePlex-Strategy"
    )
    test_mode = truthy(request.headers.get("x-routeplex-test-mode"))
    debug = truthy(request.headers.get("x-routeplex-debug"))
    plan = await gw.route(
        ex, chat, body["model"], strategy=strategy, test_mode=test_mode, debug=debug
    )
    await gw.admit(ex, chat, plan)
    if chat.stream:
        started = await gw.router.open_stream(ex, chat, plan)
        return event_stream(gw, ex, started, _events(gw, ex, started), _error_event)
    response = await gw.router.complete(ex, chat, plan)
    gw.settle(ex, response.usage)
    out = response.body
    out["x_routeplex"] = ex.routeplex_info()
    return json_response(orjson.dumps(out), 200, exchange_headers(ex))


def _error_event(error: GatewayError) -> bytes:
    """How OpenAI ends a stream that failed after its first byte: its error object."""
    return sse(error.openai_body())


def _final_chunk(ex: Exchange, template: dict[str, Any]) -> bytes:
    """The last chunk before [DONE]: usage and x_routeplex, whether or not they were asked for."""
    final: dict[str, Any] = {
        "id": template.get("id") or ex.request_id,
        "object": "chat.completion.chunk",
        "created": template.get("created") or int(time.time()),
        "model": template.get("model") or (ex.model.id if ex.model else ""),
        "choices": [],
    }
    if ex.usage.known:
        final["usage"] = ex.usage.openai()
    final["x_routeplex"] = ex.routeplex_info()
    return orjson.dumps(final)


async def _events(gw: Gateway, ex: Exchange, started: StartedStream) -> AsyncGenerator[bytes, None]:
    template: dict[str, Any] = started.first.data if started.first is not None else {}
    relayed = ex.relayed
    if started.first is not None:
        ex.first_byte()
        relayed.append(started.first.generated())
        yield sse(started.first.encoded())
    held: list[bytes] = []
    try:
        async for chunk in started.rest:
            relayed.append(chunk.generated())
            held.append(sse(chunk.encoded()))
            if not chunk.more:
                yield b"".join(held)
                held.clear()
    except GatewayError as broken:
        # Past the first byte there is no retrying: end the stream the way OpenAI does.
        ex.broken = broken
        gw.settle(ex, started.stream.usage)
        held += [_error_event(broken), SSE_DONE]
        yield b"".join(held)
        return
    gw.settle(ex, started.stream.usage)
    held += [sse(_final_chunk(ex, template)), SSE_DONE]
    yield b"".join(held)


async def list_models(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    try:
        await authenticate(request, gw.keys)
    except GatewayError as error:
        return error_response(error)
    data: list[dict[str, Any]] = [
        {"id": AUTO_MODEL, "object": "model", "created": _MODELS_CREATED, "owned_by": "routeplex"}
    ]
    for model in gw.catalog.available():
        if not gw.router.servable(model):
            continue
        entry: dict[str, Any] = {
            "id": model.id,
            "object": "model",
            "created": _MODELS_CREATED,
            "owned_by": model.provider,
        }
        if model.deprecation_date is not None:
            entry["shutdown_date"] = model.deprecation_date.isoformat()
        data.append(entry)
    return json_response(orjson.dumps({"object": "list", "data": data}))
