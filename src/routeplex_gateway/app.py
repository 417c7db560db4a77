"""The ASGI application, built by `create_app(settings)`: routes as data, a lifespan that
starts and stops the gateway, and error handling that always answers in the right envelope.
Nothing happens at import time.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api import (
    account,
    admin,
    anthropic,
    embeddings,
    health,
    native,
    openai,
    openapi,
    responses,
)
from .api.wire import BodyDeadline
from .config import Settings
from .dashboard import dashboard_routes
from .errors import ErrorCode, GatewayError, internal_error
from .exchange import new_request_id
from .gateway import Gateway
from .limits.quota import counters_unavailable

log = logging.getLogger(__name__)

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """Adds the security headers to every response (pure ASGI: no per-request overhead
    beyond a list append)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_security_headers(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {name for name, _ in headers}
    return [*headers, *((n, v) for n, v in _SECURITY_HEADERS if n not in present)]


Endpoint = Callable[[Request], Awaitable[Response]]


class GatewayApp(Starlette):
    """Starlette, with the chat endpoints — nearly all the traffic — dispatched first.

    A POST to one of them skips the router (a regex match per route) and the middleware stack
    (three `send` wrappers per streamed chunk): the same handler, the same security headers,
    the same envelope for an unexpected error. Every other request, and any other method on
    these paths, goes through Starlette as usual.
    """

    def __init__(self, *, hot: dict[str, Endpoint], body_timeout_s: float, **options: Any) -> None:
        super().__init__(**options)
        self._hot = hot
        self._body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = None
        if scope["type"] == "http":
            # Every request's body is on a clock (408 past it): a trickled body would
            # otherwise hold its connection and handler for as long as the client likes.
            receive = BodyDeadline(receive, self._body_timeout_s)
            if scope["method"] == "POST":
                endpoint = self._hot.get(scope["path"])
        if endpoint is None:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:  # what ServerErrorMiddleware would do, minus the traceback
            response = await _unexpected(request, exc)
        response.raw_headers = _with_security_headers(response.raw_headers)
        try:
            await response(scope, receive, send)
        except Exception as exc:
            # Mid-stream: too late for an envelope; log the type, and let the server drop
            # the connection.
            log.error("unhandled error", extra={"error_type": type(exc).__name__})
            raise


def _openai_path(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def _envelope(request: Request, error: GatewayError) -> Response:
    """The envelope of the surface the caller speaks: Anthropic's for Anthropic clients
    (they send `anthropic-version`), OpenAI's elsewhere under /v1, the native one outside."""
    if anthropic.addressed(request):
        response = anthropic.error_response(error)
        # Every answer of Anthropic's surface has an id (the anthropic SDK reads it); one
        # refused before any exchange began gets its own.
        response.headers.setdefault("request-id", new_request_id())
        return response
    if _openai_path(request.url.path):
        return openai.error_response(error)
    return native.error_response(error)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if exc.status_code == 404:
        error = openai.not_served(path) if _openai_path(path) else native.not_found()
    elif exc.status_code == 405:
        error = GatewayError(
            ErrorCode.METHOD_NOT_ALLOWED, "This method is not allowed on this endpoint."
        )
    else:
        error = GatewayError(ErrorCode.BAD_REQUEST, "Bad request.")
    return _envelope(request, error)


async def _refused(request: Request, exc: Exception) -> Response:
    """A refusal raised where no handler catches it (a body read past its deadline)."""
    assert isinstance(exc, GatewayError)
    return _envelope(request, exc)


async def _unexpected(request: Request, exc: Exception) -> Response:
    gateway: Gateway = request.app.state.gateway
    if isinstance(exc, gateway.quota.unavailable):
        # The limits store (Redis) is down: a page reading today's counters says so, as the
        # chat endpoints do, rather than answer 500.
        log.warning("limits store unavailable", extra={"error_type": type(exc).__name__})
        return _envelope(request, counters_unavailable())
    # The type only: an exception's message or locals could hold request content.
    log.error("unhandled error", extra={"error_type": type(exc).__name__})
    return _envelope(request, internal_error())


def _tune_garbage_collector() -> None:
    """Keep Python's cyclic garbage collector out of the way of requests in flight."""
    # What start-up built (imported modules, catalog, caches) lives as long as the process.
    # Frozen, it is out of the collector's reach: a full collection under load then scans only
    # request-lived objects — measured, ~60 ms → well under 1 ms, a pause that otherwise lands
    # on every stream in flight.
    gc.collect()
    gc.freeze()
    # Young collections every 700 allocations scanned each in-flight request's objects over
    # and over (~5% of the CPU under load, by perf); nearly all of them are freed by reference
    # counting anyway, so collect rarely.
    gc.set_threshold(50_000, 20, 20)


def create_app(settings: Settings, *, simulator_url: str | None = None) -> GatewayApp:
    gateway = Gateway(settings, simulator_url=simulator_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        _tune_garbage_collector()
        try:
            yield
        finally:
            await gateway.stop()

    routes = [
        Route("/v1/chat/completions", openai.chat_completions, methods=["POST"]),
        Route("/v1/responses", responses.create, methods=["POST"]),
        Route("/v1/responses/{response_id}", responses.stored, methods=["GET", "DELETE"]),
        Route("/v1/responses/{response_id}/input_items", responses.stored, methods=["GET"]),
        Route("/v1/responses/{response_id}/cancel", responses.stored, methods=["POST"]),
        Route("/v1/embeddings", embeddings.embeddings, methods=["POST"]),
        Route("/v1/messages", anthropic.messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", anthropic.count_tokens, methods=["POST"]),
        Route("/v1/models", openai.list_models, methods=["GET"]),
        Route("/v1/models/{model_id}", openai.get_model, methods=["GET"]),
        Route("/api/v1/chat", native.chat, methods=["POST"]),
        Route("/api/v1/chat/estimate", native.estimate, methods=["POST"]),
        Route("/api/v1/models", native.models, methods=["GET"]),
        Route("/api/v1/usage", account.usage, methods=["GET"]),
        Route("/api/v1/account", account.account, methods=["GET"]),
        Route("/api/v1/account/keys", account.list_keys, methods=["GET"]),
        Route("/api/v1/account/keys", account.create_key, methods=["POST"]),
        Route("/api/v1/account/keys/{key_id}", account.revoke_key, methods=["DELETE"]),
        Route("/admin/accounts", admin.list_accounts, methods=["GET"]),
        Route("/admin/accounts", admin.create_account, methods=["POST"]),
        Route("/admin/accounts/{account_id}", admin.get_account, methods=["GET"]),
        Route("/admin/accounts/{account_id}", admin.update_account, methods=["PATCH"]),
        Route("/admin/accounts/{account_id}", admin.delete_account, methods=["DELETE"]),
        Route("/admin/accounts/{account_id}/keys", admin.account_keys, methods=["GET"]),
        Route("/admin/accounts/{account_id}/keys", admin.create_account_key, methods=["POST"]),
        Route("/admin/keys/{key_id}", admin.revoke_key, methods=["DELETE"]),
        Route("/admin/plans", admin.plans, methods=["GET"]),
        Route("/admin/usage", admin.usage, methods=["GET"]),
        Route("/admin/usage/surfaces", admin.usage_by_surface, methods=["GET"]),
        Route("/admin/health", admin.health, methods=["GET"]),
        Route("/", health.root, methods=["GET"]),
        Route("/health", health.health, methods=["GET"]),
        Route("/ready", health.ready, methods=["GET"]),
        Route("/metrics", health.metrics, methods=["GET"]),
        Route("/openapi.json", openapi.document, methods=["GET"]),
        # The usage dashboard (pages, sign-in, static files), with its own CSP.
        *dashboard_routes(settings, simulated=simulator_url is not None),
    ]
    app = GatewayApp(
        hot={
            "/v1/chat/completions": openai.chat_completions,
            "/v1/messages": anthropic.messages,
            "/v1/responses": responses.create,
            "/v1/embeddings": embeddings.embeddings,
            "/api/v1/chat": native.chat,
        },
        routes=routes,
        lifespan=lifespan,
        body_timeout_s=settings.body_timeout_s,
        exception_handlers={
            HTTPException: _http_error,
            GatewayError: _refused,
            Exception: _unexpected,
        },
    )
    app.state.gateway = gateway
    app.add_middleware(SecurityHeaders)
    return app


def app_from_environment() -> GatewayApp:
    """The app as a worker process builds it (`serve --workers`): settings from the
    environment and the file named by ROUTEPLEX_CONFIG."""
    import os
    from pathlib import Path

    from .config import load_settings
    from .logs import configure

    config = os.environ.get("ROUTEPLEX_CONFIG")
    settings = load_settings(Path(config) if config else None)
    configure(settings.log_level)
    return create_app(settings, simulator_url=settings.simulator_url)
