"""The long-lived parts one gateway process shares, built from settings and started and
stopped with the server: storage, key cache, signed-out sessions, catalog, providers, router,
metadata recorder.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

from .auth import KeyCache, Principal
from .canonical import ChatRequest, Usage
from .config import Settings
from .data_policy import DataRequirement
from .errors import ErrorCode, GatewayError, validation
from .exchange import Exchange
from .limits.memory import MemoryQuota
from .limits.plans import Plans
from .limits.quota import Quota, utc_today
from .metering.record import Endpoint, RoutingMode
from .metering.recorder import Recorder
from .metering.retention import RetentionJob
from .metering.tokens import (
    approximate_text_tokens,
    counted_exactly,
    estimate_input_tokens,
    estimate_prediction_tokens,
)
from .observability import Metrics
from .providers import ProviderRegistry
from .readiness import Readiness
from .routing.catalog import AUTO_MODEL, Catalog, CatalogModel, build_catalog
from .routing.choice import ModelChoice, data_policy_refusal, eligible
from .routing.router import Attempt, Router
from .routing.scoring import Scorer
from .signouts import SignedOutSessions
from .storage import Store
from .supervisor import Supervisor

log = logging.getLogger(__name__)

# The smallest output cap the gateway sets on a caller's behalf to fit the remaining budget.
_MIN_USEFUL_OUTPUT = 16


def _quota(settings: Settings) -> Quota:
    if not settings.redis_url:
        return MemoryQuota()
    # Imported only when configured: redis-py brings OpenTelemetry's SDK along (~7 MB).
    from .limits.redis import RedisQuota

    return RedisQuota(settings.redis_url, lease_s=settings.concurrency_lease_s)


class Gateway:
    def __init__(self, settings: Settings, *, simulator_url: str | None = None) -> None:
        self.settings = settings
        self.simulator_url = simulator_url
        self.catalog: Catalog = build_catalog(settings, simulator_url)
        self.providers = ProviderRegistry()
        self.router = Router(self.catalog, self.providers)
        self.scorer = Scorer(self.catalog, self.router.health)
        self.choice = ModelChoice(self.catalog, self.router, self.scorer)
        self.metrics = Metrics()
        self.plans = Plans(settings.all_plans)
        self.quota = _quota(settings)
        self._store: Store | None = None
        self._keys: KeyCache | None = None
        self._signed_out: SignedOutSessions | None = None
        self._recorder: Recorder | None = None
        self._retention: RetentionJob | None = None
        self.supervisor = Supervisor()
        self.readiness = Readiness(self)
        self.stopping = False  # readiness says so from the moment stopping begins
        self._settling: set[asyncio.Future[None]] = set()  # settlements outliving their request

    @property
    def store(self) -> Store:
        assert self._store is not None, "gateway not started"
        return self._store

    @property
    def keys(self) -> KeyCache:
        assert self._keys is not None, "gateway not started"
        return self._keys

    @property
    def signed_out(self) -> SignedOutSessions:
        assert self._signed_out is not None, "gateway not started"
        return self._signed_out

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
        self._signed_out = SignedOutSessions(self._store, settings.key_refresh_s)
        await self._signed_out.start()
        # Today's counters start from what is already recorded: here, and again only if the
        # backend finds them lost (Redis flushed or restarted) — never per request.
        self.quota.recorded = self._store.day_totals
        today = utc_today()
        await self.quota.seed(today, await self._store.day_totals(today))
        self._recorder = Recorder(
            self._store,
            flush_s=settings.recorder_flush_s,
            batch_size=settings.recorder_batch_size,
            buffer_size=settings.recorder_buffer_size,
        )
        self._retention = RetentionJob(
            self._store,
            retention_days=settings.metadata_retention_days,
            grace_s=settings.billing_grace_s,
            interval_s=settings.retention_interval_s,
        )
        self.supervisor.start("key-refresh", self._keys.refresh)
        self.supervisor.start("session-refresh", self._signed_out.refresh)
        self.supervisor.start("metadata-writer", self._recorder.step)
        self.supervisor.start("retention", self._retention.step)

    async def stop(self) -> None:
        self.stopping = True
        await self.supervisor.stop()
        if self._recorder is not None:
            await self._recorder.drain()
        await self.providers.close()
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)
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

    def settle_cut_short(self, ex: Exchange, reported: Usage) -> None:
        """A stream the gateway's side ended early (the client left, the server stopped, an
        unexpected error): the provider's usage if it came, else its prompt and the output
        received so far, estimated — never the whole reservation for an answer not sent. (A
        stream the provider broke off keeps the provider's word: unknown usage stays unknown.)
        """
        if reported.known:
            self.settle(ex, reported)
            return
        self.settle(
            ex,
            Usage(
                input_tokens=ex.prompt_tokens,
                output_tokens=approximate_text_tokens("".join(ex.relayed)),
            ),
        )
        ex.usage_estimated = True

    def check_asked(
        self,
        model: CatalogModel,
        allowed: tuple[str, ...] | None,
        *,
        test_mode: bool,
        requirement: DataRequirement | None = None,
        wire: str | None = None,
    ) -> None:
        """A model asked for by name (chat or embeddings): the key may use it, test mode
        allows it, a provider here serves it, and one of its deployments (of those speaking
        `wire`, when the request needs that format) meets the data policy `requirement` — or
        the refusal saying which is not so."""
        if allowed is not None and model.id not in allowed:
            raise GatewayError(
                ErrorCode.FORBIDDEN_MODEL,
                "This API key is not allowed to use that model.",
                param="model",
            )
        if test_mode and model.tier != "default":
            raise self.choice.premium_in_test_mode(allowed)
        if not self.router.servable(model):
            raise GatewayError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"The model '{model.id}' has no provider configured on this gateway.",
                param="model",
            )
        if requirement and (unmet := self.router.unmet(model, requirement, wire=wire)):
            raise data_policy_refusal(
                f"No deployment of '{model.id}' meets this request's data policy "
                f"({requirement.label()}).",
                requirement,
                list(unmet),
            )

    async def admit(self, ex: Exchange, request: ChatRequest, plan: list[Attempt]) -> None:
        """Hold the request's worst case against the caller's limits, or refuse it.

        The worst case is the prompt plus the output cap, plus a Predicted Output's tokens
        (billed as output when rejected, beyond the cap). When the caller set no cap, the
        gateway sets one — the smallest output cap among the models it may try, lowered to
        what today's remaining budget allows — so that every attempt is bounded by what
        was reserved.
        """
        principal = ex.principal
        assert principal is not None
        models = list({m.id: m for m, _ in plan}.values())
        openai_only = bool(models) and all(counted_exactly(m.provider) for m in models)
        input_tokens = ex.prompt_tokens = estimate_input_tokens(request, openai_only=openai_only)
        predicted = estimate_prediction_tokens(request, openai_only=openai_only)
        output = request.max_output_tokens
        if output is None and models:
            output = min(m.max_output_tokens for m in models)
            output = await self._affordable(principal, models, input_tokens, predicted, output)
            request.max_output_tokens = output
            request.output_cap_added = True
        worst_output = (output or 0) + predicted
        worst_tokens = input_tokens + worst_output
        worst_cost = 0
        for model in models:
            cost = self.catalog.pricer.cost_picousd(
                model.id, Usage(input_tokens=input_tokens, output_tokens=worst_output)
            )
            worst_cost = max(worst_cost, cost or 0)  # an unpriced model: the token cap holds
        ex.ticket = await self.quota.admit(
            principal.account_id,
            principal.key_id,
            principal.policy,
            tokens=worst_tokens,
            cost_picousd=worst_cost,
        )

    async def _affordable(
        self,
        principal: Principal,
        models: list[CatalogModel],
        input_tokens: int,
        predicted: int,
        output: int,
    ) -> int:
        """`output`, lowered to what the account's remaining tokens and budget allow beside
        the prompt and a prediction's (output-priced) tokens. Below
        `_MIN_USEFUL_OUTPUT` it stays as it was: a few tokens of answer would look like a
        broken reply, so the quota refuses the request instead, with its daily-limit code."""
        original = output
        tokens_left, cost_left = await self.quota.remaining(
            principal.account_id, principal.policy.account
        )
        if tokens_left is not None:
            output = min(output, tokens_left - input_tokens - predicted)
        if cost_left is not None:
            for model in models:
                price = self.catalog.pricer.price(model.id)
                per_in, per_out = price.per_1k() if price is not None else (None, None)
                if per_out:
                    spare = (
                        Decimal(cost_left) / 10**12
                        - (per_in or Decimal(0)) * input_tokens / 1000
                        - per_out * predicted / 1000
                    )
                    output = min(output, int(spare * 1000 / per_out))
        return output if output >= _MIN_USEFUL_OUTPUT else original

    async def close(self, ex: Exchange, status: int, error: GatewayError | None = None) -> None:
        """End a request: its metadata row, its metrics, then its quota settlement — once.

        Nothing here can be undone by cancelling the caller (a client leaving right after its
        last event, a server stopping): the row is queued before the first await, and the
        settlement runs shielded, to the end, even if the caller is cancelled while it waits.
        """
        if ex.closed:
            return
        ex.closed = True
        record = ex.finish(status, error)
        if record is not None:
            self.recorder.record(record)
        self.metrics.observe(ex, status)
        self.router.stream_ended(ex, status, error)
        ticket = ex.ticket
        if ticket is None:
            return
        if ex.usage.known:
            tokens, cost = ex.usage.total_tokens, ex.cost_picousd
        elif status < 400 or ex.ttfb_ms is not None:
            # An answer whose usage went unreported: the provider may have billed it all.
            tokens, cost = None, None
        else:
            tokens, cost = 0, 0  # refused or failed before any answer
        if self.quota.settles_in_place:
            # In-process counters settle without suspending: there is nothing to cancel.
            await self.quota.settle(ticket, tokens, cost)
            return
        settling = asyncio.ensure_future(self.quota.settle(ticket, tokens, cost))
        self._settling.add(settling)
        settling.add_done_callback(self._settling.discard)
        await asyncio.shield(settling)

    async def route(
        self,
        ex: Exchange,
        request: ChatRequest,
        model_name: str,
        *,
        strategy: str | None,
        test_mode: bool,
        debug: bool = False,
        listing: str,
        wire: str | None = None,
    ) -> list[Attempt]:
        """The attempts to make for this request, best first; sets the routing facts on `ex`.
        `wire` keeps only deployments speaking that wire format (see `Router.plan`)."""
        principal = ex.principal
        allowed = principal.allowed_models if principal is not None else None
        requirement = ex.data_requirement
        if model_name == AUTO_MODEL:
            ex.routing_mode = RoutingMode.AUTO
            ex.requested_model = AUTO_MODEL
            ex.strategy = strategy or "auto"
            models = await self._auto(ex, request, test_mode=test_mode, debug=debug)
        else:
            model = self.choice.resolve(model_name, listing=listing)
            ex.requested_model = model.id
            ex.strategy = strategy
            self.check_asked(
                model, allowed, test_mode=test_mode, requirement=requirement, wire=wire
            )
            limit = model.max_output_tokens
            if request.max_output_tokens is not None and request.max_output_tokens > limit:
                if request.cap_to_model:
                    request.max_output_tokens = limit
                else:
                    raise validation(
                        f"The maximum output for '{model.id}' is {limit} tokens.", "max_tokens"
                    )
            fallbacks = self.choice.fallbacks(
                model, allowed, test_mode=test_mode, requirement=requirement
            )
            models = [model, *fallbacks]
        plan = self.router.plan(models, wire=wire, requirement=requirement)
        if plan and plan[0][0] is not models[0]:
            ex.rerouted = True  # every deployment of the chosen model has its circuit open
        if debug:
            ex.routing = {
                **(ex.routing or {"mode": "manual"}),
                "plan": [{"model": m.id, "deployment": d.id} for m, d in plan],
            }
        return plan

    async def _auto(
        self, ex: Exchange, request: ChatRequest, *, test_mode: bool, debug: bool
    ) -> list[CatalogModel]:
        principal = ex.principal
        assert principal is not None
        _, budget = await self.quota.remaining(principal.account_id, principal.policy.account)
        classification, ranked, weights = self.choice.rank(
            request,
            ex.strategy or "auto",
            max_output_tokens=request.max_output_tokens,
            test_mode=test_mode,
            budget_picousd=budget,
            allowed=principal.allowed_models,
            requirement=ex.data_requirement,
        )
        if debug:
            ex.routing = {
                "mode": AUTO_MODEL,
                "strategy": ex.strategy,
                "weights": dict(
                    zip(("capability", "cost", "latency", "reliability"), weights, strict=True)
                ),
                "classification": classification.explain(),
                "candidates": [c.explain() for c in ranked],
            }
            if ex.data_requirement:
                ex.routing["data_policy"] = ex.data_requirement.label()
        usable = eligible(ranked, ex.data_requirement)
        # The best model stands in for one whose every deployment has its circuit open.
        ex.rerouted = ranked[0].instead_of is not None
        return usable
