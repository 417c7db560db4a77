"""Which catalog models a request may go to: names resolved (suggesting the closest when
one is unknown), the test-mode and per-key restrictions, a model's configured fallbacks, and
`routeplex-ai`'s ranking of every model for a prompt.
"""

from __future__ import annotations

from decimal import Decimal

from ..canonical import ChatRequest
from ..data_policy import DataRequirement
from ..errors import ErrorCode, GatewayError
from ..limits.quota import utc_today
from .catalog import AUTO_MODEL, Catalog, CatalogModel
from .classifier import Classification, Needs, classify
from .router import Router
from .scoring import Candidate, Scorer, Weights


class ModelChoice:
    def __init__(self, catalog: Catalog, router: Router, scorer: Scorer) -> None:
        self.catalog = catalog
        self.router = router
        self.scorer = scorer

    def resolve(self, name: str, *, listing: str, embedding: bool = False) -> CatalogModel:
        """The catalog model `name` names, or `invalid_model` suggesting the closest names
        (catalog names only: the caller's own string is never repeated back). `embedding`:
        an embedding model is asked for (else a chat model); a model of the other kind is
        refused, naming the endpoint that serves it."""
        model = self.catalog.resolve(name)
        if model is not None and (model.embedding is not None) is embedding:
            return model
        if model is not None:
            raise self._wrong_kind(model, embedding=embedding)
        suggestions = self.catalog.suggest(name, embedding=embedding)
        hint = f" Did you mean {either(suggestions)}?" if suggestions else ""
        raise GatewayError(
            ErrorCode.INVALID_MODEL,
            f"Unknown model.{hint} {listing} lists the models this gateway serves.",
            param="model",
            details={"suggestions": suggestions},
        )

    def _wrong_kind(self, model: CatalogModel, *, embedding: bool) -> GatewayError:
        """A chat model asked for embeddings, or an embedding model asked to chat."""
        usable = [
            m.id
            for m in self.catalog.models.values()
            if (m.embedding is not None) is embedding
            and self.router.servable(m)
            and not m.deprecated(utc_today())
        ][:3]
        hint = f" Did you mean {either(usable)}?" if usable else ""
        if embedding:
            what = f"'{model.id}' is a chat model; POST /v1/embeddings takes an embedding model."
        else:
            what = (
                f"'{model.id}' is an embedding model: POST /v1/embeddings serves it. "
                "Chat takes a chat model."
            )
        return GatewayError(
            ErrorCode.INVALID_MODEL,
            what + hint,
            param="model",
            details={"suggestions": usable},
        )

    def chat_models(self) -> list[CatalogModel]:
        """The catalog's chat models: what `routeplex-ai` chooses from (never an embedding
        model)."""
        return [m for m in self.catalog.models.values() if m.embedding is None]

    def premium_in_test_mode(self, allowed: tuple[str, ...] | None) -> GatewayError:
        today = utc_today()
        usable = [
            m.id
            for m in self.chat_models()
            if m.tier == "default"
            and self.router.servable(m)
            and not m.deprecated(today)
            and (allowed is None or m.id in allowed)
        ]
        return GatewayError(
            ErrorCode.FORBIDDEN_MODEL,
            "Test mode serves default-tier models only, and this model is premium. "
            f"Use {either(usable) or 'no model this key may use'}, or {AUTO_MODEL}.",
            param="model",
            details={"default_tier_models": usable},
        )

    def cheapest(self, needs: Needs, requirement: DataRequirement | None = None) -> CatalogModel:
        """The cheapest servable model with what `needs` asks for (for estimates), of those
        meeting the data-policy `requirement`."""

        def price(model: CatalogModel) -> tuple[Decimal, str]:
            model_price = self.catalog.pricer.price(model.id)
            per_in = model_price.per_1k()[0] if model_price is not None else None
            return (per_in if per_in is not None else Decimal("Infinity"), model.id)

        models = [m for m in self.chat_models() if self.router.servable(m) and needs.met_by(m)]
        if requirement:
            compliant = [m for m in models if not self.router.unmet(m, requirement)]
            if models and not compliant:
                raise data_policy_refusal(
                    f"No model meets this request's data policy ({requirement.label()}).",
                    requirement,
                    list(
                        dict.fromkeys(u for m in models for u in self.router.unmet(m, requirement))
                    ),
                )
            models = compliant
        if not models:
            raise GatewayError(ErrorCode.PROVIDER_UNAVAILABLE, "No model is available.")
        return min(models, key=price)

    def fallbacks(
        self,
        model: CatalogModel,
        allowed: tuple[str, ...] | None,
        *,
        test_mode: bool,
        requirement: DataRequirement | None = None,
    ) -> list[CatalogModel]:
        """A model's configured fallbacks (manual mode), those this key may use and that
        have a deployment meeting the data-policy `requirement`."""
        fallbacks = []
        for name in model.fallbacks:
            fallback = self.catalog.resolve(name)
            if (
                fallback is not None
                and self.router.servable(fallback)
                and (allowed is None or fallback.id in allowed)
                and not (test_mode and fallback.tier != "default")
                and not (requirement and self.router.unmet(fallback, requirement))
            ):
                fallbacks.append(fallback)
        return fallbacks

    def rank(
        self,
        request: ChatRequest,
        strategy: str,
        *,
        max_output_tokens: int | None,
        test_mode: bool,
        budget_picousd: int | None = None,
        allowed: tuple[str, ...] | None = None,
        requirement: DataRequirement | None = None,
    ) -> tuple[Classification, list[Candidate], Weights]:
        """`routeplex-ai`'s view of a request: its classification, and every catalog model
        ranked for it (the eligible ones best first, then the excluded with their reasons)."""
        classification = classify(request)
        ranked, weights = self.scorer.rank(
            self.chat_models(),
            classification,
            strategy,
            max_output_tokens=max_output_tokens,
            test_mode=test_mode,
            budget_picousd=budget_picousd,
            allowed=allowed,
            servable=self.router.servable,
            unmet=(lambda m: self.router.unmet(m, requirement)) if requirement else None,
        )
        return classification, ranked, weights

    def auto_model(
        self,
        request: ChatRequest,
        strategy: str,
        *,
        max_output_tokens: int,
        test_mode: bool,
        requirement: DataRequirement | None = None,
    ) -> CatalogModel:
        """The model `routeplex-ai` would choose for this request, before any key's limits or
        budget are known (what `/api/v1/chat/estimate` quotes), among those meeting the
        data-policy `requirement`."""
        _, ranked, _ = self.rank(
            request,
            strategy,
            max_output_tokens=max_output_tokens,
            test_mode=test_mode,
            requirement=requirement,
        )
        return eligible(ranked, requirement)[0]


def eligible(
    ranked: list[Candidate], requirement: DataRequirement | None = None
) -> list[CatalogModel]:
    eligible = [c.model for c in ranked if c.excluded is None]
    if not eligible and requirement and any(c.unmet for c in ranked):
        # Fail closed: models ruled out by the data policy are never a silent downgrade.
        unmet = list(dict.fromkeys(u for c in ranked for u in c.unmet))
        raise data_policy_refusal(
            f"No model this request may use meets its data policy ({requirement.label()}).",
            requirement,
            unmet,
        )
    if not eligible:
        raise GatewayError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            "No available model can serve this request (capabilities, context size, "
            "test mode or the remaining daily budget rule them all out).",
            details={"excluded": {c.model.id: c.excluded for c in ranked}},
        )
    return eligible


def data_policy_refusal(
    message: str, requirement: DataRequirement, unmet: list[str]
) -> GatewayError:
    """403 `forbidden_model`: nothing the request may go to meets its data policy."""
    return GatewayError(
        ErrorCode.FORBIDDEN_MODEL,
        f"{message} Unmet: {', '.join(unmet)}. GET /api/v1/models?data_policy=… lists the "
        "models that meet a policy.",
        param="model",
        details={"reason": "data_policy", "required": requirement.label(), "unmet": unmet},
    )


def either(names: list[str]) -> str:
    """`a`, `a or b`, `a, b or c`."""
    return " or ".join(filter(None, (", ".join(names[:-1]), names[-1]))) if names else ""
