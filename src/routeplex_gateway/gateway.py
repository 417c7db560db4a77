"""The long-lived parts one gateway process shares, built from settings and started and
stopped with the server: storage, key cache, catalog, providers, router, metadata recorder.
"""

from __future__ import annotations

import logging

from .auth import KeyCache
from .canonical import ChatRequest, Usage
from .config import Settings
from .errors import ErrorCode, GatewayError, validation
from .exchange import Exchange
from .limits.memory import MemoryQuota
from .limits.plans import Plans
from .limits.quota import Quota, utc_today
from .limits.redis import RedisQuota
from .metering.record import Endpoint, RoutingMode
from .metering.recorder import Recorder
from .metering.retention import RetentionJob
from .metering.tokens import estimate_input_tokens
from .observability import Metrics
from .providers import ProviderRegistry
from .routing.catalog import AUTO_MODEL, Catalog, build_catalog
from .routing.router import Attempt, Needs, Router
from .storage import Store

log = logging.getLogger(__name__)


class Gateway:
    def __init__(self, settings: Settings, *, simulator_url: str | None = None) -> None:
        self.settings = settings
        self.simulator_url = simulator_url
        self.catalog: Catalog = build_catalog(settings, simulator_url)
        self.providers = ProviderRegistry()
        self.router = Router(self.catalog, self.providers)
        self.metrics = Metrics()
        self.plans = Plans(settings.all_plans)
        self.quota: Quota = RedisQuota(settings.redis_url) if settings.redis_url else MemoryQuota()
        self._store: Store | None = None
        self._keys: KeyCache | None = None
        self._recorder: Recorder | None = None
        self._retention: RetentionJob | None = None

    @property
    def store(self) -> Store:
        assert self._store is not None, "gateway not started"
        return self._store

    @property
    def keys(self) -> KeyCache:
        assert self._keys is not None, "gateway not started"
        return self._keys

    @property
    def recorder(self) -> Recorder:
        assert self._recorder is not None, "gateway not started"
        return self._recorder

    async def start(self) -> None:
        settings = self.settings
        self._store = await Store.open(settings.resolved_database_url)
        await self._store.migrate()
        self._keys = KeyCache(self._store, self.plans, settings.key_refresh_s)
        await self._keys.start()
        # Today's counters start from what is already recorded (once, here; never per request).
        today = utc_today()
        await self.quota.seed(today, await self._store.day_totals(today))
        self._recorder = Recorder(
            self._store,
            flush_s=settings.recorder_flush_s,
            batch_size=settings.recorder_batch_size,
            buffer_size=settings.recorder_buffer_size,
        )
        await self._recorder.start()
        self._retention = RetentionJob(
            self._store,
            retention_days=settings.metadata_retention_days,
            grace_s=settings.billing_grace_s,
            interval_s=settings.retention_interval_s,
        )
        await self._retention.start()

    async def stop(self) -> None:
        if self._retention is not None:
            await self._retention.stop()
        if self._recorder is not None:
            await self._recorder.stop()
        if self._keys is not None:
            await self._keys.stop()
        await self.providers.close()
        await self.quota.close()
        if self._store is not None:
            await self._store.close()

    # --- per request ------------------------------------------------------------------------
    def begin(self, endpoint: Endpoint) -> Exchange:
        if not self.recorder.accepting:
            # Better to refuse than to serve traffic that could not be billed.
            raise GatewayError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                "The gateway cannot record usage right now; try again shortly.",
                retryable=True,
            )
        return Exchange(endpoint=endpoint)

    def settle(self, ex: Exchange, usage: Usage) -> None:
        ex.usage = usage
        if ex.model is not None:
            ex.cost_picousd = self.catalog.pricer.cost_picousd(ex.model.id, usage)

    async def admit(self, ex: Exchange, request: ChatRequest, plan: list[Attempt]) -> None:
        """Hold the request's worst case against the caller's limits, or refuse it."""
        principal = ex.principal
        assert principal is not None
        input_tokens = estimate_input_tokens(request.body["messages"])
        worst_tokens, worst_cost = 0, 0
        for model in {id(m): m for m, _ in plan}.values():
            output = request.max_output_tokens or model.max_output_tokens
            worst_tokens = max(worst_tokens, input_tokens + output)
            cost = self.catalog.pricer.cost_picousd(
                model.id, Usage(input_tokens=input_tokens, output_tokens=output)
            )
            worst_cost = max(worst_cost, cost or 0)  # an unpriced model: the token cap holds
        ex.ticket = await self.quota.admit(
            principal.account_id,
            principal.key_id,
            principal.policy,
            tokens=worst_tokens,
            cost_picousd=worst_cost,
        )

    async def finish(self, ex: Exchange, status: int, error: GatewayError | None = None) -> None:
        if ex.ticket is not None:
            if ex.usage.known:
                tokens, cost = ex.usage.total_tokens, ex.cost_picousd
            elif status < 400 or ex.ttfb_ms is not None:
                # An answer whose usage went unreported: the provider may have billed it all.
                tokens, cost = None, None
            else:
                tokens, cost = 0, 0  # refused or failed before any answer
            await self.quota.settle(ex.ticket, tokens, cost)
        record = ex.finish(status, error)
        if record is not None:
            self.recorder.record(record)
        self.metrics.observe(ex, status)

    def route(
        self,
        ex: Exchange,
        request: ChatRequest,
        model_name: str,
        *,
        strategy: str | None,
        test_mode: bool,
    ) -> list[Attempt]:
        """The attempts to make for this request, best first; sets the routing facts on `ex`."""
        principal = ex.principal
        allowed = principal.allowed_models if principal is not None else None
        if model_name == AUTO_MODEL:
            ex.routing_mode = RoutingMode.AUTO
            ex.requested_model = AUTO_MODEL
            ex.strategy = strategy or "auto"
            models = self.router.auto_models(Needs.of(request.body), test_mode=test_mode)
            if allowed is not None:
                models = [m for m in models if m.id in allowed]
            if not models:
                raise GatewayError(
                    ErrorCode.PROVIDER_UNAVAILABLE,
                    "No available model has what this request needs "
                    "(tools, vision or JSON schema) on this gateway.",
                )
        else:
            model = self.catalog.resolve(model_name)
            if model is None:
                raise GatewayError(
                    ErrorCode.INVALID_MODEL,
                    "Unknown model. GET /v1/models lists the models this gateway serves.",
                    param="model",
                )
            ex.requested_model = model.id
            ex.strategy = strategy
            if allowed is not None and model.id not in allowed:
                raise GatewayError(
                    ErrorCode.FORBIDDEN_MODEL,
                    "This API key is not allowed to use that model.",
                    param="model",
                )
            if not self.router.servable(model):
                raise GatewayError(
                    ErrorCode.PROVIDER_UNAVAILABLE,
                    f"The model '{model.id}' has no provider configured on this gateway.",
                    param="model",
                )
            limit = model.max_output_tokens
            if request.max_output_tokens is not None and request.max_output_tokens > limit:
                raise validation(
                    f"The maximum output for '{model.id}' is {limit} tokens.", "max_tokens"
                )
            models = [model]
        return self.router.plan(models)
