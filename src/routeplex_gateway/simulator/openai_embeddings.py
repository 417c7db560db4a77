"""OpenAI's embeddings endpoint, simulated: `POST /v1/embeddings`.

Order of checks, as on OpenAI: authentication (the real 401 bodies), request validation (400
with OpenAI's wording: a missing model or input, an empty string, more than 2048 inputs, an
input over 8192 tokens, an unknown `encoding_format`, `dimensions` on a model that cannot
shorten its vectors or beyond their length), then the faults registered for the model, then
the vectors (`embedding_vectors`), as floats or base64. Usage counts the simulator's tokens
of each text (at least one) and each token-id array's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from routeplex_gateway.simulator.answer import count_tokens, digest
from routeplex_gateway.simulator.delivery import JsonPayload, SimulatedResponse, json_response
from routeplex_gateway.simulator.embedding_vectors import (
    SHORTENING,
    dimensions_of,
    packed,
    vector,
)
from routeplex_gateway.simulator.faults import StatusFault
from routeplex_gateway.simulator.openai_endpoints import INVALID_KEY, auth_error, bearer_key
from routeplex_gateway.simulator.openai_format import error, status_error
from routeplex_gateway.simulator.openai_request import NOT_JSON_MESSAGE, RequestError
from routeplex_gateway.simulator.state import Simulator

MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8192  # every OpenAI embedding model's context window, per input
_INVALID_INPUT = (
    "'$.input' is invalid. Please check the API reference: "
    "https://platform.openai.com/docs/api-reference."
)


@dataclass(frozen=True)
class EmbeddingCall:
    model: str
    inputs: list[str | list[int]]
    base64: bool
    dimensions: int | None


def embedding_routes(sim: Simulator) -> list[Route]:
    """The embeddings endpoint of one simulator app."""

    async def embeddings(request: Request) -> Response:
        raw = await request.body()
        sim.received(request, raw)
        key = bearer_key(request)
        if key is None or key == INVALID_KEY:
            return auth_error(key)
        try:
            call = parse_embedding_request(raw)
        except RequestError as problem:
            body = error(problem.message, "invalid_request_error", problem.param, problem.code)
            return json_response(body, status=400)
        plan = sim.faults.take(call.model)
        headers = {"x-request-id": "req_" + digest(raw, b"embeddings").hex()[:32]}
        payload = JsonPayload(orjson.dumps(embedding_body(call)), headers=headers)

        def render_error(fault: StatusFault) -> JsonPayload:
            body = status_error(fault.status, fault.code, model=call.model, api_key=key)
            error_headers = dict(headers)
            if fault.retry_after is not None:
                error_headers["retry-after"] = f"{fault.retry_after:g}"
            return JsonPayload(orjson.dumps(body), status=fault.status, headers=error_headers)

        return SimulatedResponse(payload, plan=plan, pacing=sim.pacing, render_error=render_error)

    return [Route("/v1/embeddings", embeddings, methods=["POST"])]


def parse_embedding_request(raw: bytes) -> EmbeddingCall:
    """Validate a request body; raise RequestError as OpenAI would."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestError(NOT_JSON_MESSAGE) from None
    if not isinstance(body, dict):
        raise RequestError(NOT_JSON_MESSAGE)
    model = body.get("model")
    if model is None or model == "":
        raise RequestError("you must provide a model parameter")
    if not isinstance(model, str):
        raise RequestError(f"{model!r} is not of type 'string' - 'model'", "model")
    if "input" not in body:
        raise RequestError("'input' is a required property")
    inputs = _inputs(body["input"])
    encoding = body.get("encoding_format")
    if encoding not in (None, "float", "base64"):
        raise RequestError(
            f"Invalid value for 'encoding_format' = {encoding}. Supported values are: "
            "'float' and 'base64'.",
            "encoding_format",
        )
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1:
            raise RequestError(
                f"Invalid value for 'dimensions' = {dimensions}. Must be a positive integer.",
                "dimensions",
            )
        if model not in SHORTENING and model in _KNOWN:
            raise RequestError("This model does not support specifying dimensions.")
        if dimensions > dimensions_of(model):
            raise RequestError(
                f"Invalid value for 'dimensions' = {dimensions}. Must be less than or equal "
                f"to {dimensions_of(model)}.",
                "dimensions",
            )
    for item in inputs:
        tokens = _tokens(item)
        if tokens > MAX_INPUT_TOKENS:
            raise RequestError(
                f"This model's maximum context length is {MAX_INPUT_TOKENS} tokens, however "
                f"you requested {tokens} tokens ({tokens} in your prompt; 0 for the "
                "completion). Please reduce your prompt; or completion length."
            )
    return EmbeddingCall(model, inputs, encoding == "base64", dimensions)


def _tokens(item: str | list[int]) -> int:
    return max(1, count_tokens(item)) if isinstance(item, str) else len(item)


_KNOWN = frozenset({"text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"})


def _inputs(value: Any) -> list[str | list[int]]:
    """The inputs of any of OpenAI's four shapes; refused as OpenAI refuses them."""
    if isinstance(value, str):
        if not value:
            raise RequestError(_INVALID_INPUT)
        return [value]
    if not isinstance(value, list) or not value or len(value) > MAX_INPUTS:
        raise RequestError(_INVALID_INPUT)
    if _token_ids(value):
        return [value]
    inputs: list[str | list[int]] = []
    for item in value:
        if not ((isinstance(item, str) and item) or (isinstance(item, list) and _token_ids(item))):
            raise RequestError(_INVALID_INPUT)
        inputs.append(item)
    return inputs


def _token_ids(value: list[Any]) -> bool:
    """Whether `value` is a non-empty array of token ids."""
    return bool(value) and all(
        isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in value
    )


def embedding_body(call: EmbeddingCall) -> dict[str, Any]:
    data = []
    tokens = 0
    for index, item in enumerate(call.inputs):
        values = vector(call.model, item, call.dimensions)
        tokens += _tokens(item)
        data.append(
            {
                "object": "embedding",
                "index": index,
                "embedding": packed(values) if call.base64 else values.tolist(),
            }
        )
    return {
        "object": "list",
        "data": data,
        "model": call.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
