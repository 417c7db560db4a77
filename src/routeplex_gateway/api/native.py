"""The native dialect: `POST /api/v1/chat` (plain and SSE streaming with `start` / `delta` /
`done` / `error` events), `POST /api/v1/chat/estimate` and `GET /api/v1/models`, in the
`{"success": …, "data" | "error": …}` envelope of DESIGN.md §2.2.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from ..canonical import ChatRequest, ChatResponse, ChatStream, Chunk, TextDelta, Usage
from ..data_policy import NOTHING, DataRequirement
from ..errors import ErrorCode, GatewayError, validation
from ..exchange import Exchange
from ..gateway import Gateway
from ..metering.pricing import picousd_to_usd
from ..metering.record import Endpoint
from ..metering.tokens import confidence, counted_exactly, estimate_input_tokens
from ..routing.catalog import AUTO_MODEL, CatalogModel
from ..routing.choice import data_policy_refusal
from ..routing.classifier import Needs
from . import listing, openai_decode
from .pipeline import Decoded, run
from .schemas.native import DEFAULT_MAX_OUTPUT_TOKENS, EstimateRequest, NativeChatRequest
from .schemas.refusal import check
from .validation import truthy, validate_chat_body, validate_nesting, validate_strategy
from .wire import (
    SSE_DONE,
    authenticate,
    data_requirement,
    exchange_headers,
    json_response,
    read_json,
    sse,
)

_BUFFER_S = 0.1  # buffered stream_mode: flush at a sentence end or after this long
_SENTENCE_ENDS = (". ", "! ", "? ", ".\n", "!\n", "?\n", "\n\n")
_ENHANCEMENT = (
    "Answer accurately and directly. Structure longer answers with short paragraphs or "
    "lists, and state any assumption you make about an ambiguous request."
)


def not_found() -> GatewayError:
    """A 404 outside /v1, naming the native API's endpoints (never the path sent)."""
    return GatewayError(
        ErrorCode.NOT_FOUND,
        "No such endpoint. The native API serves POST /api/v1/chat, POST /api/v1/chat/estimate "
        "and GET /api/v1/models (your account: GET /api/v1/account, GET /api/v1/usage); "
        "GET /openapi.json describes every endpoint.",
    )


def error_response(error: GatewayError, ex: Exchange | None = None) -> Response:
    headers = error.response_headers()
    if ex is not None:
        headers.update(exchange_headers(ex))
    return json_response(error.native_body(), error.status, headers)


def _ok(data: Any, headers: dict[str, str] | None = None) -> Response:
    return json_response(orjson.dumps({"success": True, "data": data}), 200, headers)


def _usd(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _usage(ex: Exchange) -> dict[str, Any]:
    usage = ex.usage
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "cost_usd": _usd(ex.cost_usd),
        "internal_reasoning_tokens": usage.reasoning_tokens,
    }


def _openai_body(body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The native request as an OpenAI-shaped body, and the native-only options."""
    request = check(NativeChatRequest, body)
    model = request.model
    mode = request.mode or ("manual" if model else AUTO_MODEL)
    if mode == "manual" and not model:
        raise validation("'model' is required in manual mode.", "model")
    enhance = bool(request.enhance_prompt)
    messages = list(body["messages"])
    if enhance:
        messages.insert(0, {"role": "system", "content": _ENHANCEMENT})
    max_output = request.max_output_tokens
    openai_body: dict[str, Any] = {
        "model": AUTO_MODEL if mode == AUTO_MODEL else model,
        "messages": messages,
        "max_tokens": max_output if max_output is not None else DEFAULT_MAX_OUTPUT_TOKENS,
        "stream": bool(request.stream),
    }
    if request.temperature is not None:
        openai_body["temperature"] = body["temperature"]
    options = {
        "strategy": request.strategy,
        "test_mode": bool(request.test_mode),
        "stream_mode": request.stream_mode or "buffered",
        "enhancement": {"applied": True, "method": "system_guidance"} if enhance else None,
    }
    return openai_body, options


class NativeChat:
    """The codec of `POST /api/v1/chat` (see `pipeline.Codec`)."""

    endpoint = Endpoint.NATIVE_CHAT
    models_listing = "GET /api/v1/models"

    def credential(self, request: Request) -> str | None:
        return request.headers.get("authorization")

    def decode(self, body: Any, headers: Headers) -> Decoded:
        openai_body, options = _openai_body(body)
        try:
            chat = validate_chat_body(openai_body)
        except GatewayError as error:
            if error.param == "max_tokens":  # the native name for it
                error.param = "max_output_tokens"
                error.message = error.message.replace("'max_tokens'", "'max_output_tokens'")
            raise
        return Decoded(
            chat=chat,
            model=openai_body["model"],
            strategy=options.pop("strategy"),
            test_mode=options.pop("test_mode"),
            options=options,
        )

    def answer(self, ex: Exchange, decoded: Decoded, response: ChatResponse) -> Response:
        data = {
            "id": ex.request_id,
            "output": response.text(),
            "model_used": ex.model.id if ex.model else None,
            "provider": ex.deployment.provider if ex.deployment else None,
            "routing_mode": ex.routing_mode.value,
            "fallback_used": ex.fallback_used,
            "latency_ms": ex.elapsed_ms(),
            "usage": _usage(ex),
            "enhancement": decoded.options["enhancement"],
            **({"routing": ex.routing} if ex.routing is not None else {}),
        }
        return _ok(data, exchange_headers(ex))

    def stream(self, ex: Exchange, decoded: Decoded) -> TextEvents:
        return TextEvents(ex, buffered=decoded.options["stream_mode"] == "buffered")

    def error(self, error: GatewayError, ex: Exchange | None = None) -> Response:
        return error_response(error, ex)


CODEC = NativeChat()


async def chat(request: Request) -> Response:
    return await run(request, CODEC)


def _event(payload: dict[str, Any]) -> bytes:
    return sse(orjson.dumps(payload))


def _text(chunk: Chunk) -> str:
    """The answer text of a chunk (its thinking, tool calls and refusal are not shown)."""
    deltas = chunk.deltas
    if len(deltas) == 1:  # the usual chunk: one piece of text
        delta = deltas[0]
        return delta.text if isinstance(delta, TextDelta) else ""
    return "".join(delta.text for delta in deltas if isinstance(delta, TextDelta))


class TextEvents:
    """The native stream: `start`, the answer's text as `delta` events, then `done` with
    usage (or `error`), and `[DONE]`.

    Buffered mode sends whole sentences, or whatever ~100 ms brought, instead of each
    provider chunk as it comes.
    """

    def __init__(self, ex: Exchange, *, buffered: bool) -> None:
        self._ex = ex
        self._buffered = buffered
        self._pending = ""
        self._last_flush = time.monotonic()

    def open(self, stream: ChatStream, first: Chunk | None) -> bytes:
        start = _event({"type": "start", "request_id": self._ex.request_id})
        return start + (self.chunk(first) if first is not None else b"")

    def chunk(self, chunk: Chunk) -> bytes:
        text = _text(chunk)
        if not self._buffered:
            return _delta(text)
        pending = self._pending = self._pending + text
        ends = [pending.rfind(end) + len(end) for end in _SENTENCE_ENDS if end in pending]
        if ends:
            cut = max(ends)
            self._pending = pending[cut:]
            self._last_flush = time.monotonic()
            return _delta(pending[:cut])
        if pending and time.monotonic() - self._last_flush >= _BUFFER_S:
            return self._flush()
        return b""

    def _flush(self) -> bytes:
        pending, self._pending = self._pending, ""
        self._last_flush = time.monotonic()
        return _delta(pending)

    def close(self, stream: ChatStream) -> bytes:
        ex = self._ex
        done = {
            "type": "done",
            "model_used": ex.model.id if ex.model else None,
            "provider": ex.deployment.provider if ex.deployment else None,
            "usage": _usage(ex),
            "finish_reason": stream.finish_reason,
            "latency_ms": ex.elapsed_ms(),
        }
        return self._flush() + _event(done) + SSE_DONE

    def fail(self, error: GatewayError) -> bytes:
        # What was generated before the failure is sent first: it was relayed, and charged.
        error_event = {"type": "error", "message": error.message, "code": error.code.value}
        return self._flush() + _event(error_event) + SSE_DONE


def _delta(text: str) -> bytes:
    return _event({"type": "delta", "content": text}) if text else b""


def _pricing(gw: Gateway, model: CatalogModel) -> dict[str, float | None]:
    price = gw.catalog.pricer.price(model.id)
    per_in, per_out = price.per_1k() if price is not None else (None, None)
    return {"input_per_1k": _usd(per_in), "output_per_1k": _usd(per_out)}


def _estimated_model(
    gw: Gateway, request: Request, chat: ChatRequest, asked: EstimateRequest, max_output: int
) -> tuple[CatalogModel, str | None, str | None]:
    """The model to estimate for, its routing mode and strategy: the named model, the one
    `routeplex-ai` would choose (the real router's ranking), or the cheapest available — of
    those an `X-RoutePlex-Data-Policy` header allows, as chat would route (the estimate takes
    no key, so only the header's requirement is known)."""
    name, mode = asked.model, asked.mode
    requirement = data_requirement(None, request.headers)
    if AUTO_MODEL in (name, mode):
        header = request.headers.get("x-routeplex-strategy")
        strategy = asked.strategy or validate_strategy(header, "X-RoutePlex-Strategy") or "auto"
        test_mode = bool(asked.test_mode) or truthy(request.headers.get("x-routeplex-test-mode"))
        chosen = gw.choice.auto_model(
            chat,
            strategy,
            max_output_tokens=max_output,
            test_mode=test_mode,
            requirement=requirement,
        )
        return chosen, AUTO_MODEL, strategy
    if name is not None:
        model = gw.choice.resolve(name, listing="GET /api/v1/models")
        if requirement and (unmet := gw.router.unmet(model, requirement)):
            raise data_policy_refusal(
                f"No deployment of '{model.id}' meets this request's data policy "
                f"({requirement.label()}).",
                requirement,
                list(unmet),
            )
        return model, "manual", None
    if mode == "manual":
        raise validation("'model' is required in manual mode.", "model")
    return gw.choice.cheapest(Needs.of(chat), requirement), None, None


async def estimate(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    try:
        body = await read_json(request, gw.settings.max_body_bytes)
        # What the estimate counts (tools, schemas, …) is checked as chat would check it, so
        # a body chat refuses is not quoted a price.
        asked = check(EstimateRequest, body)
        validate_nesting(body)
        # The output cap under each name a caller may know it by: the native API's first.
        caps = (asked.max_output_tokens, asked.max_completion_tokens, asked.max_tokens)
        max_output = next((cap for cap in caps if cap is not None), DEFAULT_MAX_OUTPUT_TOKENS)
        chat = openai_decode.decode(body, stream=False, max_output_tokens=max_output)
        model, routing_mode, strategy = _estimated_model(gw, request, chat, asked, max_output)
        max_output = min(max_output, model.max_output_tokens)
    except GatewayError as error:
        return error_response(error)
    input_tokens = estimate_input_tokens(chat, openai_only=counted_exactly(model.provider))
    usage = Usage(input_tokens=input_tokens, output_tokens=max_output)
    cost = gw.catalog.pricer.cost_picousd(model.id, usage)
    return _ok(
        {
            "model": model.id,
            "routing_mode": routing_mode,
            "strategy": strategy,
            "input_tokens": input_tokens,
            "max_output_tokens": max_output,
            "total_tokens": input_tokens + max_output,
            "estimated_cost_usd": _usd(picousd_to_usd(cost)) if cost is not None else None,
            "confidence": confidence(model.provider),
            "pricing": _pricing(gw, model),
        }
    )


def deployment_policies(model: CatalogModel) -> list[dict[str, object]]:
    """What each deployment of `model` does with a prompt downstream, by provider: why a
    listing filtered by a data policy shows the model or not."""
    return [{"provider": d.provider, **d.data_policy.as_dict()} for d in model.deployments]


def catalog(gw: Gateway, required: DataRequirement = NOTHING) -> list[dict[str, Any]]:
    """`GET /api/v1/models`' data: every catalog model, or with `required` only those a
    deployment meeting it serves (the dashboard's Models page shows the same)."""
    data = []
    today = datetime.now(UTC).date()
    for model in gw.catalog.models.values():
        if not listing.listed(gw, model, required):
            continue
        caps = model.capabilities
        data.append(
            {
                "id": model.id,
                "display_name": model.display_name,
                "provider": model.provider,
                "tier": model.tier,
                "context_window": model.context_window,
                "max_output_tokens": model.max_output_tokens,
                "health": gw.router.model_health(model) if gw.router.servable(model) else "down",
                "pricing": _pricing(gw, model),
                "capabilities": {
                    "streaming": caps.streaming,
                    "functions": caps.tools,
                    "vision": caps.vision,
                },
                "aliases": list(model.aliases),
                "deprecated": model.deprecated(today),
                "deprecation_date": model.deprecation_date.isoformat()
                if model.deprecation_date
                else None,
                "data_policies": deployment_policies(model),
            }
        )
        if model.embedding is not None:  # served on POST /v1/embeddings, never for chat
            data[-1]["embedding"] = {
                "dimensions": model.embedding.dimensions,
                "custom_dimensions": model.embedding.custom_dimensions,
            }
    return data


async def models(request: Request) -> Response:
    """No key needed; a key that is sent is checked, and its (and its account's) data-policy
    requirement filters the listing as `?data_policy=` and the header do."""
    gw: Gateway = request.app.state.gateway
    try:
        principal = None
        if "authorization" in request.headers:
            principal = await authenticate(request, gw.keys)
        required = listing.requirement(request, principal)
    except GatewayError as error:
        return error_response(error)
    return _ok(catalog(gw, required))
