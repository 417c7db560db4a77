"""Gemini's embeddings endpoint, simulated: `POST /v1beta/models/{model}:batchEmbedContents`.

Order of checks, as on Gemini: the API key (as `gemini_endpoints`), then the request (400
`INVALID_ARGUMENT` in Google's `* Field: problem` wording: no `requests`, more than 100 in one
batch, a request naming another model than the URL's, content without text,
`outputDimensionality` on a model that cannot shorten its vectors or out of range), then the
faults registered for the model, then the vectors (`embedding_vectors`). Like the real API the
answer holds the vectors only — no usage — and a shortened vector is truncated, not scaled
back to unit length (Google asks callers to normalise it themselves).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from routeplex_gateway.simulator.delivery import JsonPayload, SimulatedResponse, json_response
from routeplex_gateway.simulator.embedding_vectors import SHORTENING, dimensions_of, vector
from routeplex_gateway.simulator.faults import StatusFault
from routeplex_gateway.simulator.gemini_format import (
    MISSING_KEY_MESSAGE,
    error_body,
    invalid_key_error,
    status_error,
)
from routeplex_gateway.simulator.state import Simulator

INVALID_KEY = "sk-invalid"
JSON_UTF8 = "application/json; charset=UTF-8"
MAX_BATCH = 100


class BatchError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def embedding_routes(sim: Simulator) -> list[Route]:
    """Gemini's embeddings endpoint of one simulator app (listed before the generate route,
    whose path would match it too)."""

    async def batch_embed(request: Request) -> Response:
        raw = await request.body()
        sim.received(request, raw)
        model = request.path_params["model"]
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            return json_response(error_body(403, MISSING_KEY_MESSAGE), status=403)
        if key == INVALID_KEY:
            return json_response(invalid_key_error(), status=400)
        try:
            body = batch_body(raw, model)
        except BatchError as problem:
            return json_response(error_body(400, problem.message), status=400)
        plan = sim.faults.take(model)
        payload = JsonPayload(orjson.dumps(body), content_type=JSON_UTF8)

        def render_error(fault: StatusFault) -> JsonPayload:
            error = status_error(
                fault.status, fault.code, model=model, retry_after=fault.retry_after
            )
            return JsonPayload(orjson.dumps(error), status=fault.status, content_type=JSON_UTF8)

        return SimulatedResponse(payload, plan=plan, pacing=sim.pacing, render_error=render_error)

    return [Route("/v1beta/models/{model}:batchEmbedContents", batch_embed, methods=["POST"])]


def batch_body(raw: bytes, model: str) -> dict[str, Any]:
    """The answer to a valid request body; BatchError as Gemini words a refusal."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BatchError("Invalid JSON payload received.") from None
    if not isinstance(body, dict):
        raise BatchError("Invalid JSON payload received.")
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise BatchError("* BatchEmbedContentsRequest.requests: requests must not be empty")
    if len(requests) > MAX_BATCH:
        raise BatchError(
            "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch"
        )
    embeddings = []
    for index, one in enumerate(requests):
        where = f"BatchEmbedContentsRequest.requests[{index}]"
        if not isinstance(one, dict) or one.get("model") != f"models/{model}":
            raise BatchError(
                f"* {where}.model: the model of each request must match the batch's model"
            )
        text = _text(one.get("content"))
        if not text:
            raise BatchError(f"* {where}.content.parts: contents.parts must not be empty")
        size = one.get("outputDimensionality")
        if size is not None:
            if model not in SHORTENING:
                raise BatchError(f"* {where}: outputDimensionality is not supported by {model}")
            if not isinstance(size, int) or isinstance(size, bool):
                raise BatchError(f"* {where}.output_dimensionality: must be an integer")
            if not 1 <= size <= dimensions_of(model):
                raise BatchError(
                    f"* {where}.output_dimensionality: must be between 1 and {dimensions_of(model)}"
                )
        full = vector(model, text)
        values = full.tolist()[: size or len(full)]
        embeddings.append({"values": values})
    return {"embeddings": embeddings}


def _text(content: Any) -> str:
    """The text of an embedding request's content (only `parts[].text` counts)."""
    if not isinstance(content, dict) or not isinstance(content.get("parts"), list):
        return ""
    return "".join(
        p["text"]
        for p in content["parts"]
        if isinstance(p, dict) and isinstance(p.get("text"), str)
    )
