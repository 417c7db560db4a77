"""The model catalog: which models exist, what they can do, and where each is deployed.

The shipped data (models.toml) is overlaid with the config file's `[models."id"]` entries and
with the models that configured OpenAI-compatible servers declare. Deployments come from the
providers actually configured, so a model with none is listed in the catalog but not served.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Any

from pydantic import SecretStr

from ..canonical import Deployment
from ..config import DataPolicyConfig, ModelOverride, ProviderConfig, Settings
from ..data_policy import UNKNOWN, DataPolicy
from ..metering.pricing import FlatPrice, ModelPrice, Pricer, lookup_price
from ..providers import builtin, public_name
from ..providers.descriptor import DEFAULT_KIND, by_family
from ..simulator.formats import base_url as simulator_base_url

AUTO_MODEL = "routeplex-ai"
# A name longer than this is not a typo of a model name: no suggestions (and no quadratic
# string matching on whatever a caller sent).
_SUGGEST_MAX_CHARS = 100


@dataclass(frozen=True, slots=True)
class Capabilities:
    streaming: bool = True
    tools: bool = False
    vision: bool = False
    json_schema: bool = False
    # False for models that refuse `temperature` and `top_p` together (newer Claude models):
    # the gateway then sends `temperature` alone.
    temperature_with_top_p: bool = True


@dataclass(frozen=True, slots=True)
class Embedding:
    """An embedding model's vectors: their length, and whether the model answers shorter
    ones on request (`dimensions`: OpenAI's text-embedding-3, Gemini's outputDimensionality)."""

    dimensions: int
    custom_dimensions: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogModel:
    id: str
    display_name: str
    provider: str  # provider family, by its public name (`providers.Descriptor.name`)
    tier: str
    context_window: int
    max_output_tokens: int
    capabilities: Capabilities
    aliases: tuple[str, ...] = ()
    deprecation_date: date | None = None
    deployments: tuple[Deployment, ...] = field(default=(), compare=False)
    fallbacks: tuple[str, ...] = ()  # manual mode: models to try when every deployment fails
    # Set for embedding models: served on /v1/embeddings only, never for chat.
    embedding: Embedding | None = None

    @property
    def available(self) -> bool:
        return bool(self.deployments)

    def deprecated(self, today: date) -> bool:
        return self.deprecation_date is not None and self.deprecation_date <= today


class Catalog:
    """Models by id; `resolve` also accepts aliases and `provider/id` names."""

    def __init__(self, models: list[CatalogModel], pricer: Pricer) -> None:
        self.models = {m.id: m for m in models}
        self.pricer = pricer
        self._names: dict[str, str] = {}
        # A provider's configuration name (`gemini/…`) keeps resolving beside its public one
        # (`google/…`): configurations and clients written before the rename still work.
        config_names = {d.name: d.kind for d in builtin() if d.name != d.kind}
        for model in models:
            names = [model.id, f"{model.provider}/{model.id}", *model.aliases]
            if model.provider in config_names:
                names.append(f"{config_names[model.provider]}/{model.id}")
            for name in names:
                self._names.setdefault(name, model.id)

    def resolve(self, name: str) -> CatalogModel | None:
        model_id = self._names.get(name)
        return self.models[model_id] if model_id is not None else None

    def suggest(self, name: str, limit: int = 3, *, embedding: bool = False) -> list[str]:
        """The catalog names (ids, aliases, `provider/id`) closest to an unknown `name`, best
        first, one per model: what a typo most likely meant — among the embedding models with
        `embedding`, else among the chat models."""
        if len(name) > _SUGGEST_MAX_CHARS:
            return []
        seen: set[str] = set()
        names: list[str] = []
        for close in difflib.get_close_matches(name.lower(), self._names, n=10, cutoff=0.6):
            if (self.models[self._names[close]].embedding is not None) is not embedding:
                continue
            if self._names[close] not in seen:
                seen.add(self._names[close])
                names.append(close)
        return names[:limit]

    def available(self) -> list[CatalogModel]:
        return [m for m in self.models.values() if m.available]


def _shipped() -> dict[str, dict[str, Any]]:
    text = resources.files(__package__).joinpath("models.toml").read_text()
    models: dict[str, dict[str, Any]] = tomllib.loads(text)["models"]
    return models


def shipped_family(model_id: str) -> str | None:
    """The provider family (its kind) of a model the shipped catalog lists, or None."""
    entry = _shipped().get(model_id)
    return str(entry["provider"]) if entry is not None else None


def builtin_endpoints(settings: Settings, simulator_url: str | None) -> list[ProviderConfig]:
    """The built-in providers whose variables are set.

    With `simulator_url`, every built-in provider the simulator has a wire format for points
    at the simulator instead (it serves all of its formats on one port).
    """
    endpoints: list[ProviderConfig] = []
    for descriptor in builtin():
        if simulator_url is not None:
            if descriptor.simulator_format is None:
                continue
            key: SecretStr | None = SecretStr("sk-routeplex-simulator")
            base_url = simulator_base_url(simulator_url, descriptor.simulator_format)
        else:
            key, configured_url = settings.provider_variables(descriptor)
            if key is None and configured_url is None:
                continue
            base_url = configured_url or descriptor.default_base_url
        endpoints.append(
            ProviderConfig(
                name=descriptor.name,
                kind=descriptor.kind,
                base_url=base_url,
                api_key=key,
                timeout_s=settings.upstream_timeout_s,
            )
        )
    return endpoints


def endpoint_policies(settings: Settings, builtins: list[ProviderConfig]) -> dict[str, DataPolicy]:
    """Each endpoint's data policy, by name: a built-in provider's published one (unknown for
    any other server), under what the operator configured — the endpoint's own
    `data_policy`, then `[data_policies]` naming it."""
    policies: dict[str, DataPolicy] = {}
    for endpoint in builtins:
        descriptor = by_family(endpoint.name)
        policies[endpoint.name] = descriptor.data_policy if descriptor else UNKNOWN
    for endpoint in settings.providers:
        policies[endpoint.name] = UNKNOWN
    for endpoint in [*builtins, *settings.providers]:
        configured = [endpoint.data_policy, settings.data_policies.get(endpoint.name)]
        descriptor = by_family(endpoint.name)
        if descriptor is not None and descriptor.kind != endpoint.name:
            configured.append(settings.data_policies.get(descriptor.kind))
        for override in configured:
            if override is not None:
                policies[endpoint.name] = override.policy().over(policies[endpoint.name])
    return policies


def _over(policy: DataPolicy, override: DataPolicyConfig | dict[str, Any] | None) -> DataPolicy:
    if override is None:
        return policy
    if isinstance(override, dict):
        override = DataPolicyConfig.model_validate(override)
    return override.policy().over(policy)


def _deployment(
    endpoint: ProviderConfig,
    upstream_model: str,
    settings: Settings,
    max_output_tokens: int,
    capabilities: Capabilities,
    *,
    data_policy: DataPolicy,
    weight: int | None = None,
) -> Deployment:
    key = endpoint.api_key.get_secret_value() if endpoint.api_key else ""
    if not key and endpoint.api_key_env:
        key = os.environ.get(endpoint.api_key_env, "")
    return Deployment(
        provider=endpoint.name,
        kind=endpoint.kind,
        base_url=endpoint.base_url.rstrip("/"),
        api_key=key,
        upstream_model=upstream_model,
        weight=endpoint.weight if weight is None else weight,
        timeout_s=endpoint.timeout_s or settings.upstream_timeout_s,
        max_output_tokens=max_output_tokens,
        temperature_with_top_p=capabilities.temperature_with_top_p,
        retry_started_timeouts=settings.retry_started_timeouts,
        data_policy=data_policy,
    )


def _price(model_id: str, family: str, override: ModelOverride | None) -> ModelPrice | None:
    if override is not None and override.input_per_mtok is not None:
        return ModelPrice(
            flat=FlatPrice(
                input_per_mtok=override.input_per_mtok,
                output_per_mtok=override.output_per_mtok or override.input_per_mtok,
                cache_read_per_mtok=override.cache_read_per_mtok,
                cache_write_per_mtok=override.cache_write_per_mtok,
                cache_write_1h_per_mtok=override.cache_write_1h_per_mtok,
                input_audio_per_mtok=override.input_audio_per_mtok,
                cache_audio_read_per_mtok=override.cache_audio_read_per_mtok,
            )
        )
    return lookup_price(model_id, family)


def build_catalog(settings: Settings, simulator_url: str | None = None) -> Catalog:
    builtins = builtin_endpoints(settings, simulator_url)
    endpoints = [*builtins, *settings.providers]
    policies = endpoint_policies(settings, builtins)
    by_name = {e.name: e for e in endpoints}
    for descriptor in builtin():
        # Configuration may name a built-in endpoint by its kind (`provider = "gemini"`).
        if descriptor.name in by_name:
            by_name.setdefault(descriptor.kind, by_name[descriptor.name])
    entries: dict[str, dict[str, Any]] = {k: dict(v) for k, v in _shipped().items()}
    for endpoint in endpoints:
        for upstream in endpoint.models:
            entries.setdefault(
                f"{endpoint.name}/{upstream}",
                {
                    "display_name": upstream,
                    "provider": endpoint.kind,
                    "tier": "default",
                    "context_window": 128000,
                    "max_output_tokens": 4096,
                    "capabilities": {"streaming": True, "tools": True},
                    "_endpoint": endpoint.name,
                    "_upstream": upstream,
                },
            )
        for upstream, dimensions in endpoint.embedding_models.items():
            entries.setdefault(
                f"{endpoint.name}/{upstream}",
                {
                    "display_name": upstream,
                    "provider": endpoint.kind,
                    "tier": "default",
                    "context_window": 8192,
                    "max_output_tokens": 1,
                    "capabilities": {"streaming": False},
                    "embedding": {"dimensions": dimensions},
                    "_endpoint": endpoint.name,
                    "_upstream": upstream,
                },
            )
    for model_id, override in settings.models.items():
        entry = entries.setdefault(
            model_id,
            {
                "display_name": model_id,
                "provider": DEFAULT_KIND,
                "tier": "default",
                "context_window": 128000,
                "max_output_tokens": 4096,
            },
        )
        entry.update(override.model_dump(exclude_none=True, exclude={"provider"}))
        if override.provider is not None:
            entry["_endpoint"] = override.provider
            entry["_upstream"] = override.upstream_model or model_id

    models: list[CatalogModel] = []
    prices: dict[str, ModelPrice | None] = {}
    for model_id, entry in entries.items():
        family = entry["provider"]
        explicit = entry.get("_endpoint")
        upstream = entry.get("_upstream", model_id)
        if explicit is not None:
            targets = [by_name[explicit]] if explicit in by_name else []
        else:
            # Shipped models are served by the built-in provider of their family.
            served_by = {family, public_name(family)}
            targets = [e for e in endpoints if e.name in served_by]
        max_output = int(entry["max_output_tokens"])
        capabilities = Capabilities(**entry.get("capabilities", {}))
        own_policy = entry.get("data_policy")
        deployments = [
            _deployment(
                e,
                upstream,
                settings,
                max_output,
                capabilities,
                data_policy=_over(policies[e.name], own_policy),
            )
            for e in targets
        ]
        for extra in entry.get("deployments") or ():
            if extra["provider"] in by_name:
                endpoint = by_name[extra["provider"]]
                deployments.append(
                    _deployment(
                        endpoint,
                        extra.get("upstream_model") or upstream,
                        settings,
                        max_output,
                        capabilities,
                        data_policy=_over(policies[endpoint.name], extra.get("data_policy")),
                        weight=int(extra.get("weight", 1)),
                    )
                )
        deprecation = entry.get("deprecation_date")
        embedding = entry.get("embedding")
        models.append(
            CatalogModel(
                id=model_id,
                display_name=entry["display_name"],
                provider=public_name(family),
                tier=entry.get("tier", "default"),
                context_window=int(entry["context_window"]),
                max_output_tokens=max_output,
                capabilities=capabilities,
                aliases=tuple(entry.get("aliases", ())),
                deprecation_date=date.fromisoformat(deprecation) if deprecation else None,
                deployments=tuple(deployments),
                fallbacks=tuple(entry.get("fallbacks") or ()),
                embedding=Embedding(**embedding) if embedding else None,
            )
        )
        prices[model_id] = _price(model_id, family, settings.models.get(model_id))
    return Catalog(models, Pricer(prices))
