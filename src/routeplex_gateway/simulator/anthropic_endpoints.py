"""The Anthropic HTTP surface: `POST /v1/messages` and `POST /v1/messages/count_tokens`.

Order of checks, as on Anthropic: the API key — the `x-api-key` header, or `Authorization:
Bearer` as newer Anthropic SDKs send it (missing, or the key `sk-invalid`, gets the real 401
body) — then the `anthropic-version` header, request validation (400), then the
faults registered for the model, then the deterministic answer.

Fault mapping: a `status` fault answers with Anthropic's error body for that status (429 with
`retry-after` when the fault gives one, 529 `overloaded_error`); `cut_after_chunks` drops the
connection after K events; `malformed_after_chunks` sends, after K events, the mid-stream
`event: error` (`overloaded_error`) Anthropic sends after HTTP 200, then ends the stream —
Anthropic's own way of failing mid-stream, which a JSON-truncating fault would not model.

`count_tokens` checks the key and version alike, then answers `{"input_tokens": N}` with the
count `anthropic_request` documents. Faults are not applied to it: they are registered for a
model's answers, and a count taking one would leave the answer it was meant for unharmed.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from routeplex_gateway.simulator.answer import digest, plan_answer, stable_token
from routeplex_gateway.simulator.anthropic_format import (
    MISSING_KEY_MESSAGE,
    MISSING_VERSION_MESSAGE,
    Message,
    error_body,
    message_body,
    overloaded_event,
    status_error,
    stream_events,
)
from routeplex_gateway.simulator.anthropic_request import (
    RequestError,
    parse_count_tokens_request,
    parse_messages_request,
)
from routeplex_gateway.simulator.delivery import (
    JsonPayload,
    SimulatedResponse,
    StreamPayload,
    json_response,
)
from routeplex_gateway.simulator.faults import StatusFault
from routeplex_gateway.simulator.openai_endpoints import bearer_key
from routeplex_gateway.simulator.state import Simulator

INVALID_KEY = "sk-invalid"


def anthropic_routes(sim: Simulator) -> list[Route]:
    """The Anthropic provider endpoints of one simulator app."""

    async def messages(request: Request) -> Response:
        raw = await request.body()
        sim.received(request, raw)
        request_id = "req_011" + stable_token(digest(raw), "request-id", 21)
        headers = {"request-id": request_id}
        key = request.headers.get("x-api-key") or bearer_key(request)
        if not key or key == INVALID_KEY:
            reason = MISSING_KEY_MESSAGE if not key else "invalid x-api-key"
            body = error_body("authentication_error", reason, request_id)
            return json_response(body, status=401, headers=headers)
        if not request.headers.get("anthropic-version"):
            body = error_body("invalid_request_error", MISSING_VERSION_MESSAGE, request_id)
            return json_response(body, status=400, headers=headers)
        try:
            parsed = parse_messages_request(raw)
        except RequestError as problem:
            body = error_body("invalid_request_error", problem.message, request_id)
            return json_response(body, status=400, headers=headers)
        plan = sim.faults.take(parsed.model)
        spec = parsed.spec
        message = Message(
            id="msg_01" + stable_token(spec.seed, f"id-{sim.next_sequence()}", 22),
            model=parsed.model,
            seed=spec.seed,
            answer=plan_answer(spec),
            input_tokens=parsed.input_tokens,
            thinking=spec.reasoning is True,
            cache_write_5m_tokens=parsed.cache_write_5m_tokens,
            cache_write_1h_tokens=parsed.cache_write_1h_tokens,
        )
        payload: JsonPayload | StreamPayload
        if parsed.stream:
            payload = StreamPayload(stream_events(message), overloaded_event(message), headers)
        else:
            answer = message.answer
            pieces = len(answer.pieces) + len(answer.tool_calls)
            encoded = orjson.dumps(message_body(message))
            payload = JsonPayload(encoded, headers=headers, paced_pieces=pieces)

        def render_error(fault: StatusFault) -> JsonPayload:
            body = status_error(fault.status, fault.code, model=parsed.model, request_id=request_id)
            error_headers = dict(headers)
            if fault.retry_after is not None:
                error_headers["retry-after"] = f"{fault.retry_after:g}"
            return JsonPayload(orjson.dumps(body), status=fault.status, headers=error_headers)

        return SimulatedResponse(payload, plan=plan, pacing=sim.pacing, render_error=render_error)

    async def count_tokens(request: Request) -> Response:
        raw = await request.body()
        sim.received(request, raw)
        request_id = "req_011" + stable_token(digest(raw), "request-id", 21)
        headers = {"request-id": request_id}
        refused = _refused(request, request_id)
        if refused is not None:
            return refused
        try:
            parsed = parse_count_tokens_request(raw)
        except RequestError as problem:
            body = error_body("invalid_request_error", problem.message, request_id)
            return json_response(body, status=400, headers=headers)
        return json_response({"input_tokens": parsed.input_tokens}, headers=headers)

    return [
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
    ]


def _refused(request: Request, request_id: str) -> Response | None:
    """Anthropic's answer to a missing or invalid key, or a missing `anthropic-version`."""
    headers = {"request-id": request_id}
    key = request.headers.get("x-api-key") or bearer_key(request)
    if not key or key == INVALID_KEY:
        reason = MISSING_KEY_MESSAGE if not key else "invalid x-api-key"
        body = error_body("authentication_error", reason, request_id)
        return json_response(body, status=401, headers=headers)
    if not request.headers.get("anthropic-version"):
        body = error_body("invalid_request_error", MISSING_VERSION_MESSAGE, request_id)
        return json_response(body, status=400, headers=headers)
    return None
