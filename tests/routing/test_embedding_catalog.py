"""Embedding models in the catalog: the shipped ones with their vectors' length and prices,
an OpenAI-compatible server's by configuration (from a TOML file, as operators write it), and
the two kinds kept apart when a name is resolved or suggested."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from routeplex_gateway.canonical import Usage
from routeplex_gateway.config import Settings, load_settings
from routeplex_gateway.errors import GatewayError
from routeplex_gateway.providers import ProviderRegistry
from routeplex_gateway.routing.catalog import Embedding, build_catalog
from routeplex_gateway.routing.choice import ModelChoice
from routeplex_gateway.routing.router import Router
from routeplex_gateway.routing.scoring import Scorer

SHIPPED = {
    "text-embedding-3-small": (Embedding(1536, True), Decimal("0.02")),
    "text-embedding-3-large": (Embedding(3072, True), Decimal("0.13")),
    "text-embedding-ada-002": (Embedding(1536, False), Decimal("0.10")),
    "gemini-embedding-001": (Embedding(3072, True), Decimal("0.15")),
}


def _choice(settings: Settings) -> ModelChoice:
    catalog = build_catalog(settings, simulator_url="http://127.0.0.1:9")
    router = Router(catalog, ProviderRegistry())
    return ModelChoice(catalog, router, Scorer(catalog, router.health))


def test_shipped_embedding_models_have_their_vectors_and_prices() -> None:
    catalog = build_catalog(Settings(), simulator_url="http://127.0.0.1:9")
    for model_id, (embedding, per_million) in SHIPPED.items():
        model = catalog.resolve(model_id)
        assert model is not None and model.embedding == embedding and model.available
        million = Usage(input_tokens=1_000_000, output_tokens=0)
        assert catalog.pricer.cost_picousd(model_id, million) == per_million * 10**12
    old = catalog.resolve("google/text-embedding-004")
    assert old is not None and old.embedding == Embedding(768) and old.deprecation_date
    assert catalog.pricer.price("text-embedding-004") is None  # unknown, never free by guess
    assert catalog.resolve("gpt-4o-mini").embedding is None  # type: ignore[union-attr]


def test_a_servers_embedding_models_come_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "routeplex.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\n'
        "[[providers]]\n"
        'name = "local"\nbase_url = "http://127.0.0.1:7/v1"\n'
        'models = ["llama-3.1-8b"]\n'
        'embedding_models = { "nomic-embed-text" = 768, "bge-m3" = 1024 }\n'
        '[models."local/bge-m3"]\n'
        "embedding = { dimensions = 1024, custom_dimensions = true }\n"
        'input_per_mtok = "0.01"\n'
    )
    catalog = build_catalog(load_settings(config))
    nomic = catalog.resolve("local/nomic-embed-text")
    assert nomic is not None and nomic.embedding == Embedding(768)
    assert nomic.deployments[0].upstream_model == "nomic-embed-text"
    bge = catalog.resolve("local/bge-m3")
    assert bge is not None and bge.embedding == Embedding(1024, True)
    assert catalog.pricer.cost_picousd(bge.id, Usage(input_tokens=100, output_tokens=0)) == 10**6
    assert catalog.resolve("local/llama-3.1-8b").embedding is None  # type: ignore[union-attr]


def test_names_resolve_and_suggest_within_their_kind() -> None:
    choice = _choice(Settings())
    assert choice.resolve("text-embedding-3-small", listing="L", embedding=True).embedding
    with pytest.raises(GatewayError) as chat_here:
        choice.resolve("gpt-4o-mini", listing="L", embedding=True)
    assert chat_here.value.details["suggestions"][0] == "text-embedding-3-small"
    with pytest.raises(GatewayError) as embedding_there:
        choice.resolve("text-embedding-3-small", listing="L")
    assert "POST /v1/embeddings" in embedding_there.value.message
    assert set(choice.catalog.suggest("text-embedding-3-smal", embedding=True)) >= {
        "text-embedding-3-small"
    }
    assert not any("embedding" in s for s in choice.catalog.suggest("text-embedding-3-smal"))
    assert all(m.embedding is None for m in choice.chat_models())
