"""The Gemini HTTP surface: `POST /v1beta/models/{model}:generateContent` and
`:streamGenerateContent` (SSE with `?alt=sse`, otherwise one streamed JSON array), and
`:batchEmbedContents` (`gemini_embeddings`).

Order of checks, as on Gemini: the API key (`x-goog-api-key` header or `key` query
parameter; none gets 403 `PERMISSION_DENIED`, the key `sk-invalid` gets 400
`API_KEY_INVALID`), request validation (400 `INVALID_ARGUMENT`), then the faults registered
for the model (the name in the URL), then the deterministic answer.

A `status` fault answers with Google's error body for that status: a 429 carries
`RetryInfo.retryDelay` (the fault's `retry_after`, else 20 s), and `{status: 400, code:
"API_KEY_INVALID"}` is the bad-key answer. Break faults cut, corrupt or stall the stream after
K chunks.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from routeplex_gateway.simulator.answer import plan_answer, stable_token
from routeplex_gateway.simulator.delivery import (
    JsonPayload,
    SimulatedResponse,
    StreamPayload,
    json_response,
)
from routeplex_gateway.simulator.faults import StatusFault
from routeplex_gateway.simulator.gemini_embeddings import embedding_routes
from routeplex_gateway.simulator.gemini_format import (
    MISSING_KEY_MESSAGE,
    Generated,
    error_body,
    invalid_key_error,
    json_array_events,
    malformed_event,
    response_body,
    sse_events,
    status_error,
)
from routeplex_gateway.simulator.gemini_request import RequestError, parse_generate_request
from routeplex_gateway.simulator.state import Simulator

INVALID_KEY = "sk-invalid"
JSON_UTF8 = "application/json; charset=UTF-8"
SSE = "text/event-stream"
METHODS = ("generateContent", "streamGenerateContent")


def gemini_routes(sim: Simulator) -> list[Route]:
    """The Gemini provider endpoints of one simulator app."""

    async def generate(request: Request) -> Response:
        raw = await request.body()
        sim.received(request, raw)
        model, _, method = request.path_params["target"].rpartition(":")
        if method not in METHODS or not model:
            return json_response(error_body(404, "Method not found."), status=404)
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            return json_response(error_body(403, MISSING_KEY_MESSAGE), status=403)
        if key == INVALID_KEY:
            return json_response(invalid_key_error(), status=400)
        try:
            parsed = parse_generate_request(raw, model)
        except RequestError as problem:
            return json_response(error_body(400, problem.message), status=400)
        plan = sim.faults.take(model)
        spec = parsed.spec
        generated = Generated(
            response_id=stable_token(spec.seed, f"response-{sim.next_sequence()}", 23),
            model=model,
            seed=spec.seed,
            answer=plan_answer(spec),
            prompt_tokens=parsed.prompt_tokens,
            include_thoughts=parsed.include_thoughts,
            media_tokens=parsed.media_tokens,
        )
        payload: JsonPayload | StreamPayload
        if method == "streamGenerateContent" and request.query_params.get("alt") == "sse":
            payload = StreamPayload(sse_events(generated), malformed_event(generated), {}, SSE)
        elif method == "streamGenerateContent":
            events = json_array_events(generated)
            payload = StreamPayload(events, b'\n,\r\n{"candidates": [', {}, JSON_UTF8)
        else:
            answer = generated.answer
            pieces = len(answer.pieces) + len(answer.tool_calls)
            encoded = orjson.dumps(response_body(generated))
            payload = JsonPayload(encoded, paced_pieces=pieces, content_type=JSON_UTF8)

        def render_error(fault: StatusFault) -> JsonPayload:
            body = status_error(
                fault.status, fault.code, model=model, retry_after=fault.retry_after
            )
            return JsonPayload(orjson.dumps(body), status=fault.status, content_type=JSON_UTF8)

        return SimulatedResponse(payload, plan=plan, pacing=sim.pacing, render_error=render_error)

    return [*embedding_routes(sim), Route("/v1beta/models/{target}", generate, methods=["POST"])]
