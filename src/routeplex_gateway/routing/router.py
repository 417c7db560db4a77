"""The fallback loop: try a request on a plan of (model, deployment) attempts until one
answers, moving on only for retryable failures and only before the first streamed byte.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..canonical import ChatRequest, ChatResponse, ChatStream, Chunk, Deployment
from ..errors import ErrorCode, GatewayError
from ..exchange import Exchange
from ..providers import ProviderRegistry
from .catalog import Catalog, CatalogModel

MAX_ATTEMPTS = 3  # the first try and at most 2 fallbacks
_SHORT_RETRY_AFTER_S = 2.0

Attempt = tuple[CatalogModel, Deployment]


@dataclass(slots=True)
class StartedStream:
    """A stream whose first chunk has arrived (or that ended without any)."""

    stream: ChatStream
    first: Chunk | None
    rest: AsyncIterator[Chunk]


@dataclass(frozen=True, slots=True)
class Needs:
    """What the request requires of a model, read from its shape (never its text)."""

    tools: bool = False
    vision: bool = False
    json_schema: bool = False

    @classmethod
    def of(cls, body: dict[str, Any]) -> Needs:
        vision = False
        for message in body.get("messages", ()):
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list) and any(
                isinstance(p, dict) and p.get("type") == "image_url" for p in content
            ):
                vision = True
                break
        response_format = body.get("response_format")
        return cls(
            tools=bool(body.get("tools")),
            vision=vision,
            json_schema=isinstance(response_format, dict)
            and response_format.get("type") == "json_schema",
        )

    def met_by(self, model: CatalogModel) -> bool:
        caps = model.capabilities
        return (
            (not self.tools or caps.tools)
            and (not self.vision or caps.vision)
            and (not self.json_schema or caps.json_schema)
        )


class Router:
    def __init__(self, catalog: Catalog, providers: ProviderRegistry) -> None:
        self.catalog = catalog
        self.providers = providers

    def servable(self, model: CatalogModel) -> bool:
        return any(self.providers.supports(d.kind) for d in model.deployments)

    def health_report(self) -> list[dict[str, Any]]:
        """Each deployment of each catalog model, and whether this gateway can use it."""
        return [
            {
                "model": model.id,
                "provider": deployment.provider,
                "deployment": deployment.id,
                "kind": deployment.kind,
                "state": "healthy" if self.providers.supports(deployment.kind) else "down",
            }
            for model in self.catalog.models.values()
            for deployment in model.deployments
        ]

    def auto_models(self, needs: Needs, *, test_mode: bool) -> list[CatalogModel]:
        """Models eligible for `routeplex-ai`, best first: capable, then cheapest."""
        eligible = [
            m
            for m in self.catalog.available()
            if self.servable(m) and needs.met_by(m) and not (test_mode and m.tier != "default")
        ]

        def rank(model: CatalogModel) -> tuple[int, Decimal, str]:
            price = self.catalog.pricer.price(model.id)
            per_1k = price.per_1k()[0] if price is not None else None
            unknown = Decimal("Infinity")
            return (model.tier != "default", per_1k if per_1k is not None else unknown, model.id)

        return sorted(eligible, key=rank)

    def plan(self, models: list[CatalogModel]) -> list[Attempt]:
        """Every deployment of the first model (weighted order), then the next models'."""
        attempts: list[Attempt] = []
        for model in models:
            deployments = [d for d in model.deployments if self.providers.supports(d.kind)]
            for deployment in _weighted_order(deployments):
                attempts.append((model, deployment))
                if len(attempts) == MAX_ATTEMPTS:
                    return attempts
        return attempts

    async def complete(
        self, ex: Exchange, request: ChatRequest, plan: list[Attempt]
    ) -> ChatResponse:
        last: GatewayError | None = None
        for model, deployment in plan:
            await _pause_for(last)
            ex.attempt(model, deployment)
            started = time.perf_counter()
            try:
                return await self.providers.get(deployment.kind).complete(request, deployment)
            except GatewayError as exc:
                if not exc.retryable:
                    raise
                last = exc
            finally:
                ex.upstream_s += time.perf_counter() - started
        raise _exhausted(ex, last)

    async def open_stream(
        self, ex: Exchange, request: ChatRequest, plan: list[Attempt]
    ) -> StartedStream:
        last: GatewayError | None = None
        for model, deployment in plan:
            await _pause_for(last)
            ex.attempt(model, deployment)
            started = time.perf_counter()
            try:
                stream = await self.providers.get(deployment.kind).stream(request, deployment)
                rest = aiter(stream)
                # Nothing has reached the client yet, so a stream that breaks before its
                # first chunk may still fall back.
                try:
                    first: Chunk | None = await anext(rest)
                except StopAsyncIteration:
                    first = None
                except GatewayError as broken:
                    await stream.aclose()
                    broken.retryable = True
                    raise
                return StartedStream(stream=stream, first=first, rest=rest)
            except GatewayError as exc:
                if not exc.retryable:
                    raise
                last = exc
            finally:
                ex.upstream_s += time.perf_counter() - started
        raise _exhausted(ex, last)


def _weighted_order(deployments: list[Deployment]) -> list[Deployment]:
    if len(deployments) < 2:
        return deployments
    remaining = list(deployments)
    ordered: list[Deployment] = []
    while remaining:
        pick = random.choices(remaining, weights=[max(d.weight, 1) for d in remaining])[0]
        ordered.append(pick)
        remaining.remove(pick)
    return ordered


async def _pause_for(previous: GatewayError | None) -> None:
    # Honour a short Retry-After before the next attempt; a long one is not worth the wait.
    delay = previous.retry_after_s if previous is not None else None
    if delay is not None and delay <= _SHORT_RETRY_AFTER_S:
        await asyncio.sleep(delay)


def _exhausted(ex: Exchange, last: GatewayError | None) -> GatewayError:
    if last is None:
        return GatewayError(
            ErrorCode.PROVIDER_UNAVAILABLE, "No provider is configured to serve this model."
        )
    if ex.attempts <= 1:
        return last
    return GatewayError(
        ErrorCode.ALL_PROVIDERS_FAILED,
        f"All {ex.attempts} attempts failed; the last one: {last.message}",
        provider_message=last.provider_message,
        details={"attempts": ex.attempts, "last_code": last.code.value},
    )
