"""The built-in providers' endpoints: the providers' own variables, and the simulator."""

from __future__ import annotations

import pytest

from routeplex_gateway.config import Settings
from routeplex_gateway.routing.catalog import build_catalog


def test_simulated_mode_points_every_builtin_provider_at_the_simulator() -> None:
    catalog = build_catalog(Settings(), simulator_url="http://127.0.0.1:9")
    expected = {
        # (wire format, public name, base URL)
        "gpt-4o-mini": ("openai", "openai", "http://127.0.0.1:9/v1"),
        "claude-3-5-haiku-20241022": ("anthropic", "anthropic", "http://127.0.0.1:9"),
        "gemini-2.5-flash": ("gemini", "google", "http://127.0.0.1:9"),
    }
    for model_id, (kind, name, base_url) in expected.items():
        [deployment] = catalog.models[model_id].deployments
        assert (deployment.kind, deployment.provider, deployment.base_url) == (kind, name, base_url)
    haiku = catalog.models["claude-3-5-haiku-20241022"].deployments[0]
    assert haiku.max_output_tokens == 8192  # the catalog's cap, for Anthropic's max_tokens


def test_provider_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-real")
    monkeypatch.setenv("GEMINI_BASE_URL", "http://127.0.0.1:5")
    catalog = build_catalog(Settings())
    [claude] = catalog.models["claude-sonnet-4-20250514"].deployments
    assert (claude.base_url, claude.api_key) == ("https://api.anthropic.com", "sk-ant-real")
    assert claude.max_output_tokens == 64000
    [flash] = catalog.models["gemini-2.5-flash"].deployments
    assert (flash.base_url, flash.api_key) == ("http://127.0.0.1:5", "")
    assert not catalog.models["gpt-4o-mini"].available  # no OpenAI variables set
