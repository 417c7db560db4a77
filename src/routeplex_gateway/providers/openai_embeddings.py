"""OpenAI's embeddings endpoint (`POST {base}/embeddings`), for OpenAI and every
OpenAI-compatible server: the canonical request as its body, its answer as canonical vectors.

The caller's `encoding_format` is the one asked of the provider, so vectors come in the form
the caller wants (JSON floats, or base64 of little-endian float32) and are relayed without
conversion (a server that answers floats anyway has them encoded by the surface);
`encoding_format` (when base64), `dimensions` and `user` are sent only when given: servers
that are not OpenAI may refuse what they do not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from ..canonical import Deployment, EmbeddingRequest, EmbeddingResponse, Usage, Vector
from ..errors import GatewayError
from .base import (
    MAX_RESPONSE_BYTES,
    embedding_limits,
    embedding_refusal,
    json_object,
    not_embeddings,
    post_json,
    read_all,
    upstream_error,
)

# Room for one vector in an answer: 4,096 components as JSON floats (~26 bytes each). An
# answer's size follows the inputs asked for — 2,048 of text-embedding-3-large as floats are
# over 130 MB — so the cap on what is held in memory grows with them.
_BYTES_PER_INPUT = 128 * 1024


def response_limit(inputs: int) -> int:
    """The most bytes an answer to `inputs` inputs may take."""
    return MAX_RESPONSE_BYTES + inputs * _BYTES_PER_INPUT


def request_body(request: EmbeddingRequest, deployment: Deployment) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": deployment.upstream_model,
        "input": [i if isinstance(i, str) else list(i) for i in request.inputs],
    }
    if request.encoding_format != "float":  # floats are every server's default
        body["encoding_format"] = request.encoding_format
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if request.user is not None:
        body["user"] = request.user
    return body


def _read_error(provider: str) -> Any:
    def read(status: int, raw: bytes, headers: Mapping[str, str]) -> GatewayError:
        error = (json_object(raw) or {}).get("error")
        error = error if isinstance(error, dict) else {}
        message, code = error.get("message"), error.get("code")
        return upstream_error(
            provider,
            status,
            message if isinstance(message, str) else None,
            headers.get("retry-after"),
            code=code if isinstance(code, str) else None,
        )

    return read


def answer(data: dict[str, Any] | None, provider: str, inputs: int) -> EmbeddingResponse:
    """The provider's `list` of embeddings, ordered by `index`: one vector per input, or
    a provider error."""
    items = data.get("data") if data is not None else None
    if not isinstance(items, list) or len(items) != inputs:
        raise not_embeddings(provider)
    vectors: list[Vector | None] = [None] * inputs
    for item in items:
        index = item.get("index") if isinstance(item, dict) else None
        values = item.get("embedding") if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < inputs or vectors[index] is not None:
            raise not_embeddings(provider)
        if isinstance(values, str):
            vectors[index] = Vector(packed=values)
        elif isinstance(values, list):
            vectors[index] = Vector(floats=values)
        else:
            raise not_embeddings(provider)
    assert data is not None
    usage = data.get("usage")
    prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    known = isinstance(prompt, int) and not isinstance(prompt, bool) and prompt >= 0
    model = data.get("model")
    return EmbeddingResponse(
        vectors=[v for v in vectors if v is not None],
        usage=Usage(input_tokens=prompt, output_tokens=0) if known else Usage(),
        model=model if isinstance(model, str) else "",
    )


async def embed(
    session: aiohttp.ClientSession, request: EmbeddingRequest, deployment: Deployment
) -> EmbeddingResponse:
    headers = {"Content-Type": "application/json"}
    if deployment.api_key:
        headers["Authorization"] = f"Bearer {deployment.api_key}"
    retry = deployment.retry_started_timeouts
    try:
        response = await post_json(
            session,
            f"{deployment.base_url}/embeddings",
            request_body(request, deployment),
            headers,
            provider=deployment.provider,
            limits=embedding_limits(deployment),
            read_error=_read_error(deployment.provider),
            secret=deployment.api_key,
            retry_started=retry,
        )
    except GatewayError as refused:
        raise embedding_refusal(refused) from None
    limit = response_limit(len(request.inputs))
    raw = await read_all(response, deployment.provider, retry_started=retry, limit=limit)
    return answer(json_object(raw), deployment.provider, len(request.inputs))
