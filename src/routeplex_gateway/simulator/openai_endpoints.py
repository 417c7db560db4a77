"""The OpenAI HTTP surface: `POST /v1/chat/completions` and `GET /v1/models` (the Responses
API's routes are `openai_responses_endpoints`, the embeddings' `openai_embeddings`).

Order of checks, as on OpenAI: authentication (a missing Bearer key, or the key `sk-invalid`,
gets the real 401 body), then request validation (400), then the faults registered for the
model, then the deterministic answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from routeplex_gateway.simulator.answer import digest, plan_answer, stable_token
from routeplex_gateway.simulator.delivery import (
    JsonPayload,
    SimulatedResponse,
    StreamPayload,
    json_response,
)
from routeplex_gateway.simulator.faults import StatusFault
from routeplex_gateway.simulator.openai_format import (
    MISSING_KEY_MESSAGE,
    Completion,
    completion_body,
    error,
    invalid_key_error,
    malformed_event,
    models_body,
    status_error,
    stream_events,
)
from routeplex_gateway.simulator.openai_request import ChatRequest, RequestError, parse_chat_request
from routeplex_gateway.simulator.state import Simulator

# The one key the simulator refuses, so tests can exercise the provider's 401.
INVALID_KEY = "sk-invalid"
T = TypeVar("T")

# Generous static rate-limit headers, shaped like OpenAI's, for gateways that read them.
REQUEST_LIMIT = 30000
TOKEN_LIMIT = 150_000_000


def openai_routes(sim: Simulator) -> list[Route]:
    """The OpenAI provider endpoints of one simulator app."""

    async def chat_completions(request: Request) -> Response:
        admitted = await admit(sim, request, parse_chat_request)
        if isinstance(admitted, Response):
            return admitted
        key, chat = admitted
        plan = sim.faults.take(chat.model)
        completion = _complete(chat, sim.next_sequence())
        headers = {**request_id(completion.id.encode()), **limit_headers(chat.prompt_tokens)}
        payload: JsonPayload | StreamPayload
        if chat.stream:
            events = stream_events(
                completion,
                include_usage=chat.include_usage,
                include_obfuscation=chat.include_obfuscation,
            )
            payload = StreamPayload(events, malformed_event(completion), headers)
        else:
            pieces = sum(len(a.pieces) + len(a.tool_calls) for a in completion.answers)
            encoded = orjson.dumps(completion_body(completion))
            payload = JsonPayload(encoded, headers=headers, paced_pieces=pieces)

        render_error = status_renderer(chat.model, key, completion.id)
        return SimulatedResponse(payload, plan=plan, pacing=sim.pacing, render_error=render_error)

    async def models(request: Request) -> Response:
        key = bearer_key(request)
        if key is None or key == INVALID_KEY:
            return auth_error(key)
        return json_response(models_body())

    return [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
    ]


async def admit(
    sim: Simulator, request: Request, parse: Callable[[bytes], T]
) -> tuple[str, T] | Response:
    """What OpenAI checks before any fault, in its order — the key (401), then the body
    (400) — for each of its APIs' `parse`: the key and the parsed request, or the refusal."""
    raw = await request.body()
    sim.received(request, raw)
    key = bearer_key(request)
    if key is None or key == INVALID_KEY:
        return auth_error(key)
    try:
        return key, parse(raw)
    except RequestError as problem:
        body = error(problem.message, "invalid_request_error", problem.param, problem.code)
        return json_response(body, status=400, headers=request_id(raw))


def status_renderer(model: str, key: str, answer_id: str) -> Callable[[StatusFault], JsonPayload]:
    """How a `status` fault answers a request to `model`: OpenAI's error body for the status
    (the same for every OpenAI API), its request id, and `retry-after` when the fault has one."""

    def render(fault: StatusFault) -> JsonPayload:
        body = status_error(fault.status, fault.code, model=model, api_key=key)
        headers = request_id(answer_id.encode())
        if fault.retry_after is not None:
            headers["retry-after"] = f"{fault.retry_after:g}"
        return JsonPayload(orjson.dumps(body), status=fault.status, headers=headers)

    return render


def bearer_key(request: Request) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, or None when there is none."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


def _complete(chat: ChatRequest, sequence: int) -> Completion:
    # The counter keeps ids unique; the hash ties them to the conversation for debugging.
    return Completion(
        id=f"chatcmpl-sim{stable_token(chat.seed, 'id', 10)}{sequence}",
        created=int(time.time()),
        model=chat.model,
        seed=chat.seed,
        answers=tuple(plan_answer(spec) for spec in chat.specs),
        prompt_tokens=chat.prompt_tokens,
    )


def auth_error(key: str | None) -> Response:
    """OpenAI's 401 for a missing key, or for the refused one."""
    if key is None:
        body: dict[str, Any] = error(MISSING_KEY_MESSAGE, "invalid_request_error", None, None)
    else:
        body = invalid_key_error(key)
    return json_response(body, status=401)


def request_id(basis: bytes) -> dict[str, str]:
    """An `x-request-id` header shaped like OpenAI's, stable for `basis`."""
    return {"x-request-id": "req_" + digest(basis, b"request-id").hex()[:32]}


def limit_headers(prompt_tokens: int) -> dict[str, str]:
    """OpenAI's version and rate-limit headers for a request of `prompt_tokens`."""
    return {
        "openai-version": "2020-10-01",
        "x-ratelimit-limit-requests": str(REQUEST_LIMIT),
        "x-ratelimit-limit-tokens": str(TOKEN_LIMIT),
        "x-ratelimit-remaining-requests": str(REQUEST_LIMIT - 1),
        "x-ratelimit-remaining-tokens": str(TOKEN_LIMIT - prompt_tokens),
        "x-ratelimit-reset-requests": "2ms",
        "x-ratelimit-reset-tokens": "0s",
    }
