"""The native dialect: `POST /api/v1/chat` (plain and SSE streaming with `start` / `delta` /
`done` / `error` events), `POST /api/v1/chat/estimate` and `GET /api/v1/models`, in the
`{"success": …, "data" | "error": …}` envelope of DESIGN.md §2.2.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..canonical import Chunk, Usage
from ..errors import ErrorCode, GatewayError, validation
from ..exchange import Exchange
from ..gateway import Gateway
from ..metering.pricing import picousd_to_usd
from ..metering.record import Endpoint
from ..metering.tokens import confidence, estimate_input_tokens
from ..routing.catalog import AUTO_MODEL, CatalogModel
from ..routing.classifier import Needs
from ..routing.router import StartedStream
from .field_types import check_request_fields
from .lifecycle import event_stream, handle
from .validation import (
    truthy,
    validate_chat_body,
    validate_messages,
    validate_nesting,
    validate_sampling,
    validate_strategy,
)
from .wire import (
    SSE_DONE,
    authenticate,
    exchange_headers,
    json_response,
    read_json,
    sse,
)

DEFAULT_MAX_OUTPUT_TOKENS = 512
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
    if not isinstance(body, dict):
        raise validation("The request body must be a JSON object.")
    validate_messages(body.get("messages"))
    model = body.get("model")
    mode = body.get("mode") or ("manual" if model else AUTO_MODEL)
    if mode not in ("manual", AUTO_MODEL):
        raise GatewayError(
            ErrorCode.INVALID_MODE, f"'mode' must be 'manual' or '{AUTO_MODEL}'.", param="mode"
        )
    if mode == "manual" and not model:
        raise validation("'model' is required in manual mode.", "model")
    if model is not None and not isinstance(model, str):
        raise validation("'model' must be a string.", "model")
    stream_mode = body.get("stream_mode", "buffered")
    if stream_mode not in ("buffered", "realtime"):
        raise validation("'stream_mode' must be 'buffered' or 'realtime'.", "stream_mode")
    max_output = body.get("max_output_tokens", DEFAULT_MAX_OUTPUT_TOKENS)
    enhance = body.get("enhance_prompt", False)
    for name, value in (
        ("enhance_prompt", enhance),
        ("test_mode", body.get("test_mode", False)),
        ("stream", body.get("stream", False)),
    ):
        if not isinstance(value, bool):
            raise validation(f"'{name}' must be a boolean.", name)
    messages = list(body["messages"])
    if enhance:
        messages.insert(0, {"role": "system", "content": _ENHANCEMENT})
    openai_body: dict[str, Any] = {
        "model": AUTO_MODEL if mode == AUTO_MODEL else model,
        "messages": messages,
        "max_tokens": max_output,
        "stream": body.get("stream", False),
    }
    if body.get("temperature") is not None:
        openai_body["temperature"] = body["temperature"]
    options = {
        "strategy": validate_strategy(body.get("strategy"), "strategy"),
        "test_mode": body.get("test_mode", False),
        "stream_mode": stream_mode,
        "enhancement": {"applied": True, "method": "system_guidance"} if enhance else None,
    }
    return openai_body, options


async def chat(request: Request) -> Response:
    return await handle(request, Endpoint.NATIVE_CHAT, error_response, _serve)


async def _serve(gw: Gateway, ex: Exchange, request: Request) -> Response:
    ex.principal = await authenticate(request, gw.keys)
    openai_body, options = _openai_body(await read_json(request, gw.settings.max_body_bytes))
    try:
        chat_request = validate_chat_body(openai_body)
    except GatewayError as error:
        if error.param == "max_tokens":  # the native name for it
            error.param = "max_output_tokens"
            error.message = error.message.replace("'max_tokens'", "'max_output_tokens'")
        raise
    test_mode = options["test_mode"] or truthy(request.headers.get("x-routeplex-test-mode"))
    strategy = options["strategy"] or validate_strategy(
        request.headers.get("x-routeplex-strategy"), "X-RoutePlex-Strategy"
    )
    debug = truthy(request.headers.get("x-routeplex-debug"))
    plan = await gw.route(
        ex,
        chat_request,
        openai_body["model"],
        strategy=strategy,
        test_mode=test_mode,
        debug=debug,
    )
    await gw.admit(ex, chat_request, plan)
    if chat_request.stream:
        started = await gw.router.open_stream(ex, chat_request, plan)
        events = _events(gw, ex, started, buffered=options["stream_mode"] == "buffered")
        return event_stream(gw, ex, started, events, _error_event)
    response = await gw.router.complete(ex, chat_request, plan)
    gw.settle(ex, response.usage)
    choices = response.body.get("choices") or [{}]
    message = choices[0].get("message") or {}
    data = {
        "id": ex.request_id,
        "output": message.get("content") or "",
        "model_used": ex.model.id if ex.model else None,
        "provider": ex.deployment.provider if ex.deployment else None,
        "routing_mode": ex.routing_mode.value,
        "fallback_used": ex.fallback_used,
        "latency_ms": ex.elapsed_ms(),
        "usage": _usage(ex),
        "enhancement": options["enhancement"],
        **({"routing": ex.routing} if ex.routing is not None else {}),
    }
    return _ok(data, exchange_headers(ex))


def _event(payload: dict[str, Any]) -> bytes:
    return sse(orjson.dumps(payload))


def _text(chunk: Chunk) -> str:
    for choice in chunk.data.get("choices") or ():
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if isinstance(content, str):
            return content
    return ""


async def _texts(ex: Exchange, started: StartedStream) -> AsyncIterator[str]:
    relayed = ex.relayed
    if started.first is not None:
        relayed.append(started.first.generated())
        yield _text(started.first)
    async for chunk in started.rest:
        relayed.append(chunk.generated())
        yield _text(chunk)


async def _paced(texts: AsyncIterator[str]) -> AsyncIterator[str]:
    """Buffered mode: whole sentences, or whatever ~100 ms brought."""
    pending = ""
    last_flush = time.monotonic()
    async for text in texts:
        pending += text
        cut = (
            max(pending.rfind(end) + len(end) for end in _SENTENCE_ENDS if pending.rfind(end) >= 0)
            if any(e in pending for e in _SENTENCE_ENDS)
            else 0
        )
        if cut:
            yield pending[:cut]
            pending, last_flush = pending[cut:], time.monotonic()
        elif pending and time.monotonic() - last_flush >= _BUFFER_S:
            yield pending
            pending, last_flush = "", time.monotonic()
    if pending:
        yield pending


def _error_event(error: GatewayError) -> bytes:
    return _event({"type": "error", "message": error.message, "code": error.code.value})


async def _events(
    gw: Gateway, ex: Exchange, started: StartedStream, *, buffered: bool
) -> AsyncGenerator[bytes, None]:
    ex.first_byte()
    yield _event({"type": "start", "request_id": ex.request_id})
    texts = _paced(_texts(ex, started)) if buffered else _texts(ex, started)
    try:
        async for text in texts:
            if text:
                yield _event({"type": "delta", "content": text})
    except GatewayError as broken:
        ex.broken = broken
        gw.settle(ex, started.stream.usage)
        yield _error_event(broken) + SSE_DONE
        return
    gw.settle(ex, started.stream.usage)
    yield (
        _event(
            {
                "type": "done",
                "model_used": ex.model.id if ex.model else None,
                "provider": ex.deployment.provider if ex.deployment else None,
                "usage": _usage(ex),
                "finish_reason": started.stream.finish_reason,
                "latency_ms": ex.elapsed_ms(),
            }
        )
        + SSE_DONE
    )


def _pricing(gw: Gateway, model: CatalogModel) -> dict[str, float | None]:
    price = gw.catalog.pricer.price(model.id)
    per_in, per_out = price.per_1k() if price is not None else (None, None)
    return {"input_per_1k": _usd(per_in), "output_per_1k": _usd(per_out)}


# The output cap under each name a caller may know it by: the native API's, then OpenAI's.
_OUTPUT_CAPS = ("max_output_tokens", "max_completion_tokens", "max_tokens")


def _output_cap(body: dict[str, Any]) -> int:
    for name in _OUTPUT_CAPS:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise validation(f"'{name}' must be a positive integer.", name)
        return value
    return DEFAULT_MAX_OUTPUT_TOKENS


def _estimated_model(
    gw: Gateway, request: Request, body: dict[str, Any], max_output: int
) -> tuple[CatalogModel, str | None, str | None]:
    """The model to estimate for, its routing mode and strategy: the named model, the one
    `routeplex-ai` would choose (the real router's ranking), or the cheapest available."""
    name, mode = body.get("model"), body.get("mode")
    if mode is not None and mode not in ("manual", AUTO_MODEL):
        raise GatewayError(
            ErrorCode.INVALID_MODE, f"'mode' must be 'manual' or '{AUTO_MODEL}'.", param="mode"
        )
    if name is not None and not isinstance(name, str):
        raise validation("'model' must be a string.", "model")
    if AUTO_MODEL in (name, mode):
        test_mode = body.get("test_mode", False)
        if not isinstance(test_mode, bool):
            raise validation("'test_mode' must be a boolean.", "test_mode")
        header = request.headers.get("x-routeplex-strategy")
        strategy = (
            validate_strategy(body.get("strategy"), "strategy")
            or validate_strategy(header, "X-RoutePlex-Strategy")
            or "auto"
        )
        test_mode = test_mode or truthy(request.headers.get("x-routeplex-test-mode"))
        chosen = gw.auto_model(body, strategy, max_output_tokens=max_output, test_mode=test_mode)
        return chosen, AUTO_MODEL, strategy
    if name is not None:
        return gw.resolve_model(name, listing="GET /api/v1/models"), "manual", None
    if mode == "manual":
        raise validation("'model' is required in manual mode.", "model")
    return gw.cheapest_model(Needs.of(body)), None, None


async def estimate(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    try:
        body = await read_json(request, gw.settings.max_body_bytes)
        if not isinstance(body, dict):
            raise validation("The request body must be a JSON object.")
        validate_messages(body.get("messages"))
        # What the estimate counts (tools, schemas, …) is checked as chat would check it, so
        # a body chat refuses is not quoted a price.
        validate_nesting(body)
        validate_sampling(body)
        check_request_fields(body)
        max_output = _output_cap(body)
        model, routing_mode, strategy = _estimated_model(gw, request, body, max_output)
        max_output = min(max_output, model.max_output_tokens)
    except GatewayError as error:
        return error_response(error)
    input_tokens = estimate_input_tokens(body, openai_only=model.provider == "openai")
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


async def models(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    data = []
    today = datetime.now(UTC).date()
    for model in gw.catalog.models.values():
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
            }
        )
    return _ok(data)
