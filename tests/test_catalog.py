"""The catalog: shipped models, aliases, OpenAI-compatible servers by configuration alone."""

from __future__ import annotations

import pytest

from routeplex_gateway.config import DeploymentConfig, ModelOverride, ProviderConfig, Settings
from routeplex_gateway.routing.catalog import build_catalog


def test_shipped_models_and_aliases_resolve() -> None:
    catalog = build_catalog(Settings(), simulator_url="http://127.0.0.1:9")
    mini = catalog.resolve("gpt-4o-mini")
    assert mini is not None and catalog.resolve("openai/gpt-4o-mini") is mini
    assert catalog.resolve("claude-sonnet-4") is catalog.resolve("claude-sonnet-4-20250514")
    assert catalog.resolve("nope") is None
    assert mini.deployments[0].base_url == "http://127.0.0.1:9/v1"


def test_openai_compatible_server_is_configuration_only() -> None:
    settings = Settings(
        providers=[
            ProviderConfig(
                name="groq",
                kind="openai",
                base_url="http://127.0.0.1:7/openai/v1/",
                api_key="gsk-test",
                models=["llama-3.1-8b-instant"],
            )
        ]
    )  # type: ignore[arg-type]
    catalog = build_catalog(settings)
    model = catalog.resolve("groq/llama-3.1-8b-instant")
    assert model is not None and model.available
    deployment = model.deployments[0]
    assert deployment.base_url == "http://127.0.0.1:7/openai/v1"
    assert deployment.upstream_model == "llama-3.1-8b-instant"
    assert deployment.api_key == "gsk-test" and deployment.kind == "openai"
    assert catalog.pricer.price(model.id) is None  # no price known: cost is unknown
    # Without OpenAI credentials the shipped OpenAI models have no deployment.
    assert not catalog.models["gpt-4o-mini"].available


def test_openai_env_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:5/v1")
    settings = Settings()
    assert settings.has_provider_credentials
    model = build_catalog(settings).models["gpt-4o-mini"]
    assert model.deployments[0].base_url == "http://127.0.0.1:5/v1"
    assert model.deployments[0].api_key == "sk-real"


def test_gemini_is_configured_as_gemini_and_named_google(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "g-key")
    settings = Settings(
        # A config file naming the built-in endpoint by its configuration name still works.
        models={
            "gemini-2.5-pro": ModelOverride(
                deployments=[DeploymentConfig(provider="gemini", weight=2)]
            )
        }
    )
    catalog = build_catalog(settings)
    gemini = [m for m in catalog.models.values() if m.id.startswith("gemini-")]
    assert gemini and {m.provider for m in gemini} == {"google"}
    flash = catalog.models["gemini-2.5-flash"]
    assert [(d.provider, d.kind) for d in flash.deployments] == [("google", "gemini")]
    assert catalog.resolve("google/gemini-2.5-flash") is flash
    assert catalog.resolve("gemini/gemini-2.5-flash") is flash  # the configuration name too
    pro = catalog.models["gemini-2.5-pro"]
    assert [(d.provider, d.weight) for d in pro.deployments] == [("google", 1), ("google", 2)]
    assert catalog.pricer.price("gemini-2.5-flash") is not None  # priced by its family
    # The other families' public names are their configuration names.
    assert catalog.models["gpt-4o-mini"].provider == "openai"
    assert catalog.models["claude-3-5-haiku-20241022"].provider == "anthropic"


def test_unknown_names_get_the_closest_catalog_names_one_per_model() -> None:
    catalog = build_catalog(Settings(), simulator_url="http://127.0.0.1:9")
    assert catalog.suggest("gpt4o-mini")[0] == "gpt-4o-mini"
    assert catalog.suggest("GPT-4o-Mini")[0] == "gpt-4o-mini"
    assert catalog.suggest("claude-sonet-4")[0] == "claude-sonnet-4"  # an alias
    close = catalog.suggest("openai/gpt-4o-mimi")
    assert close[0] == "openai/gpt-4o-mini" and "gpt-4o-mini" not in close
    assert len({catalog.resolve(name) for name in close}) == len(close) <= 3
    assert catalog.suggest("what-is-this") == []
    assert catalog.suggest("gpt-4o-mini" * 20) == []  # not a typo: not matched at all
