"""The fallback loop: try a request on a plan of (model, deployment) attempts until one
answers, moving on only for retryable failures and only before the first streamed byte.

Every attempt's outcome and latency feed the health board, which orders a model's
deployments (healthy first, balanced by weight) and keeps failing ones out of plans.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..canonical import (
    ChatRequest,
    ChatResponse,
    ChatStream,
    Chunk,
    Deployment,
    Embedder,
    EmbeddingRequest,
    EmbeddingResponse,
)
from ..data_policy import DataRequirement
from ..errors import ErrorCode, GatewayError
from ..exchange import Exchange
from ..providers import ProviderRegistry
from .catalog import Catalog, CatalogModel
from .health import HealthBoard

MAX_ATTEMPTS = 3  # the first try and at most 2 fallbacks
_SHORT_RETRY_AFTER_S = 2.0
# What a broken stream can say about its deployment (not the gateway's own failures).
_UPSTREAM_FAILURES = frozenset(
    {ErrorCode.PROVIDER_ERROR, ErrorCode.PROVIDER_TIMEOUT, ErrorCode.PROVIDER_UNAVAILABLE}
)

Attempt = tuple[CatalogModel, Deployment]


@runtime_checkable
class TokenCounter(Protocol):
    """A provider with its own token-counting endpoint, taking its own wire format's body."""

    async def count_tokens(
        self, body: Mapping[str, Any], deployment: Deployment, *, headers: Mapping[str, str]
    ) -> int: ...


@dataclass(slots=True)
class StartedStream:
    """A stream whose first chunk has arrived (or that ended without any)."""

    stream: ChatStream
    first: Chunk | None
    rest: AsyncIterator[Chunk]


def _counts_against(error: GatewayError) -> bool:
    """Whether a failure says something about the deployment (not about the request)."""
    return error.retryable or error.details.get("upstream_status") in (401, 403)


class Router:
    def __init__(self, catalog: Catalog, providers: ProviderRegistry) -> None:
        self.catalog = catalog
        self.providers = providers
        self.health = HealthBoard()

    def servable(self, model: CatalogModel) -> bool:
        return any(self.providers.supports(d.kind) for d in model.deployments)

    def unmet(
        self, model: CatalogModel, requirement: DataRequirement, *, wire: str | None = None
    ) -> tuple[str, ...]:
        """What keeps every deployment of `model` here (speaking `wire`, when given) from
        meeting `requirement`: nothing when one of them complies (or nothing is required),
        else each unmet condition."""
        if not requirement:
            return ()
        gaps: dict[str, None] = {}
        for deployment in model.deployments:
            if self.providers.supports(deployment.kind) and wire in (None, deployment.kind):
                unmet = requirement.unmet(deployment.data_policy)
                if not unmet:
                    return ()
                gaps.update(dict.fromkeys(unmet))
        return tuple(gaps)

    def model_health(self, model: CatalogModel) -> str:
        """A model is as healthy as its best deployment."""
        states = [
            self.health.state(d.id) for d in model.deployments if self.providers.supports(d.kind)
        ]
        for state in ("healthy", "degraded"):
            if state in states:
                return state
        return "down"

    def health_report(self) -> list[dict[str, Any]]:
        """Each deployment of each catalog model: live state, error rate, latency, circuit."""
        return [
            {
                "model": model.id,
                "provider": deployment.provider,
                "deployment": deployment.id,
                "kind": deployment.kind,
                **(
                    self.health.report(deployment.id)
                    if self.providers.supports(deployment.kind)
                    else {"state": "down", "circuit": "unsupported"}
                ),
            }
            for model in self.catalog.models.values()
            for deployment in model.deployments
        ]

    async def count_tokens(
        self,
        model: CatalogModel,
        native: dict[str, Any],
        headers: dict[str, str],
        *,
        wire: str,
        requirement: DataRequirement | None = None,
    ) -> int | None:
        """The prompt's exact input tokens from a deployment of `model` speaking `wire` (the
        body's own wire format) with a counting endpoint of its own, or None where there is
        none or it would not count this prompt — the caller then estimates. (Anthropic's
        counter refuses some bodies its Messages endpoint takes, server tools among them: an
        estimate serves the caller better.) Counting sends the prompt, so only a deployment
        meeting `requirement` is asked."""
        for _, deployment in self.plan([model], wire=wire, requirement=requirement):
            provider = self.providers.get(deployment.kind)
            if not isinstance(provider, TokenCounter):
                continue
            try:
                return await provider.count_tokens(native, deployment, headers=headers)
            except GatewayError:
                continue
        return None

    def plan(
        self,
        models: list[CatalogModel],
        *,
        wire: str | None = None,
        requirement: DataRequirement | None = None,
    ) -> list[Attempt]:
        """Every usable deployment of the first model (healthy first, weighted), then the
        next models'; at most MAX_ATTEMPTS. If health rules out everything, the least bad
        deployment is still tried rather than failing without trying. Planning only asks
        the health board: a half-open deployment's probe is taken when it is attempted.
        `wire` keeps only the deployments speaking that wire format, `requirement` only
        those whose data policy meets it — a fallback never crosses it, whatever health
        says."""
        attempts: list[Attempt] = []
        shunned: list[Attempt] = []
        for model in models:
            deployments = [
                d
                for d in model.deployments
                if self.providers.supports(d.kind)
                and wire in (None, d.kind)
                and not (requirement and requirement.unmet(d.data_policy))
            ]
            for deployment in _weighted_order(deployments):
                if self.health.available(deployment.id):
                    attempts.append((model, deployment))
                else:
                    shunned.append((model, deployment))
        if not attempts and shunned:
            attempts = [min(shunned, key=lambda a: self.health.badness(a[1].id))]
        return attempts[:MAX_ATTEMPTS]

    def _admitted(self, ex: Exchange, plan: list[Attempt]) -> Iterator[Attempt]:
        """The plan's attempts that may go now. A half-open deployment whose probe another
        request took meanwhile is skipped — unless nothing else is left to try. Serving a
        model other than the planned first because of that is a fallback."""
        for i, (model, deployment) in enumerate(plan):
            last_resort = ex.attempts == 0 and i == len(plan) - 1
            if self.health.begin(deployment.id) or last_resort:
                if ex.attempts == 0 and model is not plan[0][0]:
                    ex.rerouted = True
                yield model, deployment

    def _record(self, deployment: Deployment, started: float, error: GatewayError | None) -> None:
        if error is None or _counts_against(error):
            self.health.record(
                deployment.id, ok=error is None, latency_ms=(time.perf_counter() - started) * 1000
            )

    async def complete(
        self, ex: Exchange, request: ChatRequest, plan: list[Attempt]
    ) -> ChatResponse:
        last: GatewayError | None = None
        for model, deployment in self._admitted(ex, plan):
            await _pause_for(last)
            ex.attempt(model, deployment)
            started = time.perf_counter()
            try:
                response = await self.providers.get(deployment.kind).complete(request, deployment)
            except asyncio.CancelledError:
                self.health.release(deployment.id)
                raise
            except GatewayError as exc:
                self._record(deployment, started, exc)
                if not exc.retryable:
                    raise
                last = exc
                continue
            finally:
                ex.upstream_s += time.perf_counter() - started
            self._record(deployment, started, None)
            return response
        raise _exhausted(ex, last)

    async def embed(
        self, ex: Exchange, request: EmbeddingRequest, plan: list[Attempt]
    ) -> EmbeddingResponse:
        """`complete`'s loop for an embedding request: the plan's attempts in order, moving
        on only for retryable failures."""
        last: GatewayError | None = None
        for model, deployment in self._admitted(ex, plan):
            provider = self.providers.get(deployment.kind)
            if not isinstance(provider, Embedder):  # a wire format with no embeddings
                self.health.release(deployment.id)
                continue
            await _pause_for(last)
            ex.attempt(model, deployment)
            started = time.perf_counter()
            try:
                response = await provider.embed(request, deployment)
            except asyncio.CancelledError:
                self.health.release(deployment.id)
                raise
            except GatewayError as exc:
                self._record(deployment, started, exc)
                if not exc.retryable:
                    raise
                last = exc
                continue
            finally:
                ex.upstream_s += time.perf_counter() - started
            self._record(deployment, started, None)
            return response
        raise _exhausted(ex, last)

    async def open_stream(
        self, ex: Exchange, request: ChatRequest, plan: list[Attempt]
    ) -> StartedStream:
        last: GatewayError | None = None
        for model, deployment in self._admitted(ex, plan):
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
            except asyncio.CancelledError:
                self.health.release(deployment.id)
                raise
            except GatewayError as exc:
                self._record(deployment, started, exc)
                if not exc.retryable:
                    raise
                last = exc
                continue
            finally:
                ex.upstream_s += time.perf_counter() - started
            # Its outcome is known only when it ends (`stream_ended`): a deployment whose
            # streams break after the first chunk is failing, however fast it starts.
            ex.stream_first_chunk_ms = (time.perf_counter() - started) * 1000
            return StartedStream(stream=stream, first=first, rest=rest)
        raise _exhausted(ex, last)

    def stream_ended(self, ex: Exchange, status: int, error: GatewayError | None) -> None:
        """The served stream is over: its deployment hears how it went. Past the first byte
        there is no retry, but a break still counts against it; a client that went away
        says nothing about the deployment, and only gives its probe back."""
        if ex.deployment is None or ex.stream_first_chunk_ms is None:
            return
        if error is None and status < 400:
            self.health.record(ex.deployment.id, ok=True, latency_ms=ex.stream_first_chunk_ms)
        elif error is not None and error.code in _UPSTREAM_FAILURES:
            self.health.record(ex.deployment.id, ok=False, latency_ms=ex.stream_first_chunk_ms)
        else:
            self.health.release(ex.deployment.id)


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
