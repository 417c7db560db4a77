"""The OpenAI Responses HTTP surface: `POST /v1/responses`, and the stored-response routes
answered as a provider that stores nothing answers them.

Order of checks, as on OpenAI and as for Chat Completions (`openai_endpoints`):
authentication, request validation (400, as JSON even when `stream` was asked, as recorded),
then the faults registered for the model, then the deterministic answer.

Fault mapping: a `status` fault answers with OpenAI's error body for that status (the same
bodies as Chat Completions'); `cut_after_chunks` drops the connection after K events;
`malformed_after_chunks` sends, after K events, the mid-stream failure OpenAI sends after
HTTP 200 (an `error` event, then `response.failed`) and ends the stream — the Responses
API's own way of failing mid-stream; on a non-streamed request it truncates the JSON body.
`GET` / `DELETE /v1/responses/{id}` answer 404: this simulator keeps no responses.
"""

from __future__ import annotations

import time

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from routeplex_gateway.simulator.answer import digest, plan_answer
from routeplex_gateway.simulator.delivery import (
    JsonPayload,
    SimulatedResponse,
    StreamPayload,
    json_response,
)
from routeplex_gateway.simulator.faults import BreakFault
from routeplex_gateway.simulator.openai_endpoints import (
    INVALID_KEY,
    admit,
    auth_error,
    bearer_key,
    limit_headers,
    request_id,
    status_renderer,
)
from routeplex_gateway.simulator.openai_format import error
from routeplex_gateway.simulator.openai_responses_format import (
    Reply,
    failure_events,
    response_body,
    stream_events,
)
from routeplex_gateway.simulator.openai_responses_request import (
    ResponsesRequest,
    parse_responses_request,
)
from routeplex_gateway.simulator.state import Simulator


def responses_routes(sim: Simulator) -> list[Route]:
    """The Responses endpoints of one simulator app."""

    async def create(request: Request) -> Response:
        admitted = await admit(sim, request, parse_responses_request)
        if isinstance(admitted, Response):
            return admitted
        key, parsed = admitted
        plan = sim.faults.take(parsed.model)
        reply = _reply(parsed, sim.next_sequence())
        headers = {**request_id(reply.id.encode()), **limit_headers(parsed.prompt_tokens)}
        payload: JsonPayload | StreamPayload
        if parsed.stream:
            events = stream_events(reply, include_obfuscation=parsed.include_obfuscation)
            broken = plan.action if isinstance(plan.action, BreakFault) else None
            # The failure's events carry on the numbering where the fault breaks in.
            after = min(broken.after_chunks, len(events)) if broken is not None else 0
            payload = StreamPayload(events, failure_events(reply, after), headers)
        else:
            answer = reply.answer
            pieces = len(answer.pieces) + len(answer.tool_calls)
            encoded = orjson.dumps(response_body(reply))
            payload = JsonPayload(encoded, headers=headers, paced_pieces=pieces)

        render_error = status_renderer(parsed.model, key, reply.id)
        return SimulatedResponse(payload, plan=plan, pacing=sim.pacing, render_error=render_error)

    async def stored(request: Request) -> Response:
        key = bearer_key(request)
        if key is None or key == INVALID_KEY:
            return auth_error(key)
        response_id = request.path_params["response_id"]
        message = f"Response with id '{response_id}' not found."
        return json_response(error(message, "invalid_request_error", None, None), status=404)

    return [
        Route("/v1/responses", create, methods=["POST"]),
        Route("/v1/responses/{response_id}", stored, methods=["GET", "DELETE"]),
    ]


def _reply(parsed: ResponsesRequest, sequence: int) -> Reply:
    spec = parsed.spec
    answer = plan_answer(spec)
    # 48 hex digits, as OpenAI's; the counter in the digest keeps ids unique.
    return Reply(
        id="resp_" + digest(spec.seed, str(sequence).encode()).hex()[:48],
        created_at=int(time.time()),
        model=parsed.model,
        seed=spec.seed,
        answer=answer,
        input_tokens=parsed.prompt_tokens,
        echo=parsed.echo,
        reasoning=answer.reasoning_tokens > 0,
        encrypted_reasoning=parsed.encrypted_reasoning,
    )
