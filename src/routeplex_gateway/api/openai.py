"""The OpenAI dialect: `POST /v1/chat/completions` and `GET /v1/models`.

Responses are OpenAI's own shapes (validated against OpenAI's schema in the tests) plus an
`x_routeplex` object; errors use OpenAI's envelope with RoutePlex codes. An answer from an
OpenAI-shaped provider is relayed as it came (its body, its chunks' bytes); any other is
encoded from the canonical answer (`openai_encode`).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from ..canonical import ChatResponse, ChatStream, Chunk
from ..errors import ErrorCode, GatewayError
from ..exchange import Exchange
from ..gateway import Gateway
from ..metering.record import Endpoint
from ..routing.catalog import AUTO_MODEL
from . import anthropic, listing
from .openai_encode import ChunkWriter, completion
from .pipeline import Decoded, run
from .validation import validate_chat_body
from .wire import (
    SSE_DONE,
    authenticate,
    exchange_headers,
    json_response,
    sse,
)

_MODELS_CREATED = 1_700_000_000  # the catalog has no creation dates; a fixed, honest epoch


# OpenAI endpoints a newcomer's code may call that RoutePlex does not serve, by path prefix.
_NOT_SERVED = {
    "/v1/completions": "legacy Completions API",
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
        "POST /v1/chat/completions, its Responses at POST /v1/responses, its Embeddings at "
        "POST /v1/embeddings, Anthropic's Messages at POST /v1/messages, and the model list "
        "at GET /v1/models.",
    )


def error_response(error: GatewayError, ex: Exchange | None = None) -> Response:
    headers = error.response_headers()
    if ex is not None:
        headers.update(exchange_headers(ex))
    return json_response(error.openai_body(), error.status, headers)


class ChatCompletions:
    """The codec of `POST /v1/chat/completions` (see `pipeline.Codec`)."""

    endpoint = Endpoint.OPENAI_CHAT
    models_listing = "GET /v1/models"

    def credential(self, request: Request) -> str | None:
        return request.headers.get("authorization")

    def decode(self, body: Any, headers: Headers) -> Decoded:
        chat = validate_chat_body(body)
        return Decoded(chat=chat, model=body["model"])

    def answer(self, ex: Exchange, decoded: Decoded, response: ChatResponse) -> Response:
        out = response.native_for("openai")
        if out is None:
            model = ex.model.id if ex.model else ""
            out = completion(response, answer_id=ex.request_id, model=model)
        out["x_routeplex"] = ex.routeplex_info()
        return json_response(orjson.dumps(out), 200, exchange_headers(ex))

    def stream(self, ex: Exchange, decoded: Decoded) -> ChunkStream:
        return ChunkStream(ex)

    def error(self, error: GatewayError, ex: Exchange | None = None) -> Response:
        return error_response(error, ex)


class ChunkStream:
    """A `chat.completion.chunk` stream: an OpenAI-shaped provider's chunks as they came
    (their own bytes), any other's deltas encoded; then a final chunk with usage and
    x_routeplex, whether or not they were asked for, and `[DONE]`."""

    def __init__(self, ex: Exchange) -> None:
        self._ex = ex
        self._writer: ChunkWriter | None = None  # None: relaying the provider's own chunks
        self._id = ex.request_id
        self._model = ""
        self._created = 0

    def open(self, stream: ChatStream, first: Chunk | None) -> bytes:
        ex = self._ex
        self._id = stream.id or ex.request_id
        self._model = stream.model or (ex.model.id if ex.model else "")
        self._created = stream.created or int(time.time())
        if stream.wire == "openai":
            return self.chunk(first) if first is not None else b""
        self._writer = ChunkWriter(self._id, self._model, self._created)
        opening = self._writer.opening()
        return opening + self.chunk(first) if first is not None else opening

    def chunk(self, chunk: Chunk) -> bytes:
        writer = self._writer
        if writer is None:
            native = chunk.native
            return sse(native) if native else b""
        return writer.chunk(chunk)

    def close(self, stream: ChatStream) -> bytes:
        ex = self._ex
        final: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [],
        }
        if ex.usage.known:
            final["usage"] = ex.usage.openai()
        final["x_routeplex"] = ex.routeplex_info()
        return sse(orjson.dumps(final)) + SSE_DONE

    def fail(self, error: GatewayError) -> bytes:
        """How OpenAI ends a stream that failed after its first byte: its error object."""
        return sse(error.openai_body()) + SSE_DONE


CODEC = ChatCompletions()


async def chat_completions(request: Request) -> Response:
    return await run(request, CODEC)


def _model_object(gw: Gateway, name: str) -> dict[str, Any] | None:
    if name == AUTO_MODEL:
        return {
            "id": AUTO_MODEL,
            "object": "model",
            "created": _MODELS_CREATED,
            "owned_by": "routeplex",
        }
    model = gw.catalog.resolve(name)
    if model is None or not model.available or not gw.router.servable(model):
        return None
    entry: dict[str, Any] = {
        "id": model.id,
        "object": "model",
        "created": _MODELS_CREATED,
        "owned_by": model.provider,
    }
    if model.deprecation_date is not None:
        entry["shutdown_date"] = model.deprecation_date.isoformat()
    return entry


async def list_models(request: Request) -> Response:
    if anthropic.addressed(request):
        return await anthropic.list_models(request)
    gw: Gateway = request.app.state.gateway
    try:
        # The key in `Authorization`, or in `x-api-key` as /v1/messages takes it.
        principal = await authenticate(request, gw.keys, anthropic.credential(request))
        required = listing.requirement(request, principal)
    except GatewayError as error:
        return error_response(error)
    served = [
        m
        for m in gw.catalog.available()
        if gw.router.servable(m) and listing.listed(gw, m, required)
    ]
    # routeplex-ai routes only to chat models meeting the requirement: listed when one does.
    auto = [AUTO_MODEL] if any(m.embedding is None for m in served) or not required else []
    data = [_model_object(gw, name) for name in [*auto, *(m.id for m in served)]]
    return json_response(orjson.dumps({"object": "list", "data": data}))


async def get_model(request: Request) -> Response:
    if anthropic.addressed(request):
        return await anthropic.get_model(request)
    gw: Gateway = request.app.state.gateway
    try:
        await authenticate(request, gw.keys, anthropic.credential(request))
        entry = _model_object(gw, request.path_params["model_id"])
        if entry is None:
            raise GatewayError(
                ErrorCode.NOT_FOUND,
                "No such model here; GET /v1/models lists the models this gateway serves.",
                param="model",
            )
    except GatewayError as error:
        return error_response(error)
    return json_response(orjson.dumps(entry))
