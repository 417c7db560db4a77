"""The catalog: shipped models, aliases, OpenAI-compatible servers by configuration alone."""

from __future__ import annotations

import pytest

from routeplex_gateway.config import ProviderConfig, Settings
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
