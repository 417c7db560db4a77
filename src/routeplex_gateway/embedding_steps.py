"""The gateway's steps of an embedding request, beside `Gateway`'s chat steps: which models
it may go to (route), what it holds against the caller's limits (admit), and what it is
charged (settle).

Embedding models are named, never chosen: `routeplex-ai` ranks chat models only. A fallback
(the model's other deployments, then its configured fallbacks) must answer vectors of the same
length as the model asked for, or a caller's index would get vectors it cannot compare.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .canonical import Embedder, EmbeddingRequest, EmbeddingResponse, Usage
from .errors import validation
from .exchange import Exchange
from .metering.tokens import estimate_embedding_tokens, typical_embedding_tokens
from .routing.catalog import AUTO_MODEL, CatalogModel
from .routing.router import Attempt

if TYPE_CHECKING:
    from .gateway import Gateway


async def route(
    gw: Gateway,
    ex: Exchange,
    request: EmbeddingRequest,
    model_name: str,
    *,
    test_mode: bool,
    debug: bool,
    listing: str,
) -> list[Attempt]:
    """The attempts to make, best first; sets the routing facts on `ex`."""
    if model_name == AUTO_MODEL:
        raise validation(
            f"'{AUTO_MODEL}' chooses among chat models; name an embedding model. "
            f"{listing} lists the models this gateway serves.",
            "model",
        )
    principal = ex.principal
    allowed = principal.allowed_models if principal is not None else None
    model = gw.choice.resolve(model_name, listing=listing, embedding=True)
    ex.requested_model = model.id
    requirement = ex.data_requirement
    gw.check_asked(model, allowed, test_mode=test_mode, requirement=requirement)
    _check_dimensions(model, request.dimensions)
    fallbacks = [
        f
        for f in gw.choice.fallbacks(model, allowed, test_mode=test_mode, requirement=requirement)
        if _same_vectors(model, f, request.dimensions)
    ]
    models = [model, *fallbacks]
    plan = gw.router.plan(models, requirement=requirement)
    if request.has_tokens:
        # Token ids are one tokenizer's: only the wire formats that take them may get them.
        plan = [(m, d) for m, d in plan if _reads_token_ids(gw, d.kind)]
        if not plan:
            raise validation(
                f"'{model.id}' embeds text only: token ids are read only by OpenAI-format "
                "models. Send 'input' as strings.",
                "input",
            )
    if plan and plan[0][0] is not model:
        ex.rerouted = True  # every deployment of the chosen model has its circuit open
    if debug:
        ex.routing = {
            "mode": "manual",
            "plan": [{"model": m.id, "deployment": d.id} for m, d in plan],
        }
    return plan


def _reads_token_ids(gw: Gateway, kind: str) -> bool:
    provider = gw.providers.get(kind)
    return isinstance(provider, Embedder) and provider.embeds_token_ids


def _check_dimensions(model: CatalogModel, dimensions: int | None) -> None:
    embedding = model.embedding
    assert embedding is not None
    if dimensions is None:
        return
    if not embedding.custom_dimensions:
        raise validation(
            f"'{model.id}' answers vectors of {embedding.dimensions} dimensions only and "
            "does not take 'dimensions'; leave it out, or use a model that shortens its "
            "vectors (text-embedding-3-small, text-embedding-3-large, gemini-embedding-001).",
            "dimensions",
        )
    if dimensions > embedding.dimensions:
        raise validation(
            f"'dimensions' must be at most {embedding.dimensions} for '{model.id}'.",
            "dimensions",
        )


def _same_vectors(model: CatalogModel, fallback: CatalogModel, dimensions: int | None) -> bool:
    """Whether `fallback` answers vectors as long as `model` would."""
    asked, other = model.embedding, fallback.embedding
    if asked is None or other is None:
        return False
    if dimensions is None:
        return other.dimensions == asked.dimensions
    return other.custom_dimensions and dimensions <= other.dimensions


async def admit(gw: Gateway, ex: Exchange, request: EmbeddingRequest, plan: list[Attempt]) -> None:
    """Hold the request's input tokens (an upper bound) and their cost on the dearest model
    it may reach against the caller's limits, or refuse it. There is no output to reserve."""
    principal = ex.principal
    assert principal is not None
    tokens = ex.prompt_tokens = estimate_embedding_tokens(request.inputs)
    worst_cost = 0
    for model_id in {m.id for m, _ in plan}:
        cost = gw.catalog.pricer.cost_picousd(model_id, Usage(input_tokens=tokens, output_tokens=0))
        worst_cost = max(worst_cost, cost or 0)  # an unpriced model: the token cap holds
    ex.ticket = await gw.quota.admit(
        principal.account_id,
        principal.key_id,
        principal.policy,
        tokens=tokens,
        cost_picousd=worst_cost,
    )


def settle(gw: Gateway, ex: Exchange, request: EmbeddingRequest, answer: EmbeddingResponse) -> None:
    """Charge the provider's count; when it reported none (Gemini), the gateway's estimate of
    the input, marked as one — never zero."""
    usage = answer.usage
    if usage.input_tokens is None:
        usage = Usage(input_tokens=typical_embedding_tokens(request.inputs), output_tokens=0)
        ex.usage_estimated = True
    gw.settle(ex, usage)
