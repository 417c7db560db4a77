"""OpenAI's embeddings surface: `POST /v1/embeddings`, for OpenAI, Gemini and OpenAI-compatible
embedding models, through the one request pipeline (`pipeline.EmbeddingCodec`).

The answer is OpenAI's `list` of embeddings (validated against OpenAI's schema in the tests)
plus `x_routeplex`, with RoutePlex's cost headers; errors use OpenAI's envelope. Vectors go
out in the `encoding_format` asked for: floats, or base64 of little-endian float32 as OpenAI
sends it — encoded here when the provider answered floats (Gemini). Neither the inputs nor
the vectors are kept anywhere: they live in memory for the request's life only.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from ..canonical import EmbeddingInput, EmbeddingRequest, EmbeddingResponse
from ..errors import GatewayError
from ..exchange import Exchange
from ..metering.record import Endpoint
from .openai import error_response
from .pipeline import DecodedEmbedding, EmbeddingCodec, run
from .schemas.embeddings import CreateEmbeddingRequest
from .schemas.refusal import check
from .wire import exchange_headers, json_response


class Embeddings(EmbeddingCodec):
    """The codec of `POST /v1/embeddings`."""

    endpoint = Endpoint.OPENAI_EMBEDDINGS
    models_listing = "GET /v1/models"

    def credential(self, request: Request) -> str | None:
        return request.headers.get("authorization")

    def decode(self, body: Any, headers: Headers) -> DecodedEmbedding:
        checked = check(CreateEmbeddingRequest, body)
        request = EmbeddingRequest(
            inputs=_inputs(checked.input),
            dimensions=checked.dimensions,
            encoding_format=checked.encoding_format or "float",
            user=checked.user,
        )
        return DecodedEmbedding(embedding=request, model=checked.model)

    def answer(
        self, ex: Exchange, decoded: DecodedEmbedding, response: EmbeddingResponse
    ) -> Response:
        packed = decoded.embedding.encoding_format == "base64"
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": vector.as_base64() if packed else vector.as_floats(),
            }
            for index, vector in enumerate(response.vectors)
        ]
        tokens = ex.usage.input_tokens or 0  # settled: the provider's count or the estimate
        body = {
            "object": "list",
            "data": data,
            "model": response.model or (ex.model.id if ex.model else ""),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            # The count is the gateway's estimate when the provider reported none (Gemini).
            "x_routeplex": {**ex.routeplex_info(), "usage_estimated": ex.usage_estimated},
        }
        return json_response(orjson.dumps(body), 200, exchange_headers(ex))

    def error(self, error: GatewayError, ex: Exchange | None = None) -> Response:
        return error_response(error, ex)


def _inputs(given: str | list[str] | list[int] | list[list[int]]) -> tuple[EmbeddingInput, ...]:
    """The checked `input`, whichever of its four shapes, as one entry per input."""
    if isinstance(given, str):
        return (given,)
    inputs: list[EmbeddingInput] = []
    tokens: list[int] = []
    for item in given:
        if isinstance(item, int):
            tokens.append(item)  # one input's token ids
        else:
            inputs.append(item if isinstance(item, str) else tuple(item))
    return (tuple(tokens),) if tokens else tuple(inputs)


CODEC = Embeddings()


async def embeddings(request: Request) -> Response:
    return await run(request, CODEC)
