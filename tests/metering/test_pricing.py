"""Cost is exact (integer pico-dollars from Decimal prices) and unknown stays unknown."""

from __future__ import annotations

from decimal import Decimal

from routeplex_gateway.canonical import Usage
from routeplex_gateway.config import ModelOverride, Settings
from routeplex_gateway.metering.pricing import (
    FlatPrice,
    Pricer,
    lookup_price,
    picousd_to_usd,
    to_picousd,
)
from routeplex_gateway.routing.catalog import build_catalog


def test_gpt_4o_mini_prices_cached_tokens_at_the_cache_rate() -> None:
    price = lookup_price("gpt-4o-mini", "openai")
    assert price is not None
    # 1,000 prompt tokens of which 200 cached ($0.15 / $0.075 per MTok), 100 output ($0.60).
    usage = Usage(input_tokens=1000, output_tokens=100, cache_read_tokens=200)
    expected = (
        Decimal(800) * Decimal("0.15") + 200 * Decimal("0.075") + 100 * Decimal("0.6")
    ) / 1_000_000
    assert price.cost(usage) == expected
    assert Pricer({"gpt-4o-mini": price}).cost_picousd("gpt-4o-mini", usage) == 195_000_000


def test_reasoning_tokens_are_billed_as_output() -> None:
    price = lookup_price("o3-mini", "openai")
    assert price is not None
    with_reasoning = Usage(input_tokens=10, output_tokens=100, reasoning_tokens=64)
    assert price.cost(with_reasoning) == (10 * Decimal("1.1") + 100 * Decimal("4.4")) / 10**6


def test_unknown_price_and_unknown_usage_are_none_not_zero() -> None:
    assert lookup_price("some-local-llama", "openai") is None
    pricer = Pricer({"known": lookup_price("gpt-4o-mini", "openai"), "local": None})
    assert pricer.cost_picousd("local", Usage(input_tokens=5, output_tokens=5)) is None
    assert pricer.cost_picousd("known", Usage()) is None
    assert pricer.cost_picousd("missing", Usage(input_tokens=1, output_tokens=1)) is None


def test_picousd_round_trip_is_exact() -> None:
    tiny = Decimal("0.0000000375")  # 1 token at $0.0375/MTok
    assert to_picousd(tiny) == 37_500
    assert picousd_to_usd(37_500) == tiny


def test_config_override_prices_a_model_exactly() -> None:
    flat = FlatPrice(
        input_per_mtok=Decimal("0.2"),
        output_per_mtok=Decimal("0.8"),
        cache_read_per_mtok=Decimal("0.05"),
    )
    usage = Usage(input_tokens=1000, output_tokens=10, cache_read_tokens=500)
    assert (
        flat.cost(usage)
        == (500 * Decimal("0.2") + 500 * Decimal("0.05") + 10 * Decimal("0.8")) / 10**6
    )

    settings = Settings(
        models={
            "gpt-4o-mini": ModelOverride(input_per_mtok=Decimal("1"), output_per_mtok=Decimal("2"))
        }
    )
    catalog = build_catalog(settings, simulator_url="http://127.0.0.1:1")
    cost = catalog.pricer.cost_picousd("gpt-4o-mini", Usage(input_tokens=10, output_tokens=10))
    assert cost == 30_000_000  # (10×1 + 10×2) / 1e6 USD


def test_flat_fast_path_equals_genai_prices_exactly() -> None:
    from genai_prices import Usage as PriceUsage

    usages = [
        Usage(input_tokens=1000, output_tokens=100),
        Usage(input_tokens=5000, output_tokens=1, cache_read_tokens=4000),
        Usage(
            input_tokens=2000,
            output_tokens=300,
            cache_read_tokens=500,
            cache_write_tokens=700,
            reasoning_tokens=200,
        ),
        Usage(input_tokens=3, output_tokens=0),
        Usage(
            input_tokens=200_000,
            output_tokens=10,
            cache_write_tokens=100_000,
            cache_write_1h_tokens=60_000,
        ),
        Usage(
            input_tokens=1_000_000,
            output_tokens=7,
            cache_read_tokens=500_000,
            input_audio_tokens=400_000,
            cache_audio_read_tokens=100_000,
        ),
    ]
    for model, kind in [
        ("gpt-4o-mini", "openai"),
        ("o3-mini", "openai"),
        ("claude-sonnet-4-20250514", "anthropic"),
        ("claude-3-5-haiku-20241022", "anthropic"),
        ("gemini-2.5-flash", "google" and "gemini"),
        ("gemini-2.5-pro", "gemini"),
        ("gemini-2.0-flash", "gemini"),
        ("claude-haiku-4-5", "anthropic"),
    ]:
        price = lookup_price(model, kind)
        assert price is not None
        for usage in usages:
            expected = price._genai.calc_price(
                PriceUsage(
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cache_read_tokens=usage.cache_read_tokens or 0,
                    cache_write_tokens=usage.cache_write_tokens or 0,
                    cache_write_1h_tokens=usage.cache_write_1h_tokens or 0,
                    input_audio_tokens=usage.input_audio_tokens or 0,
                    cache_audio_read_tokens=usage.cache_audio_read_tokens or 0,
                )
            )["total_price"]
            assert price.cost(usage) == expected, (model, usage)


def test_override_prices_one_hour_writes_and_audio_apart() -> None:
    flat = FlatPrice(
        input_per_mtok=Decimal("1"),
        output_per_mtok=Decimal("2"),
        cache_read_per_mtok=Decimal("0.1"),
        cache_write_per_mtok=Decimal("1.25"),
        cache_write_1h_per_mtok=Decimal("2"),
        input_audio_per_mtok=Decimal("3"),
        cache_audio_read_per_mtok=Decimal("0.3"),
    )
    usage = Usage(
        input_tokens=1000,
        output_tokens=0,
        cache_read_tokens=300,
        cache_write_tokens=200,
        cache_write_1h_tokens=50,
        input_audio_tokens=400,
        cache_audio_read_tokens=100,
    )
    # Uncached: 1000 - 300 read - 200 written = 500, of which 300 audio (400 less 100 read).
    expected = (
        200 * Decimal(1)
        + 300 * Decimal(3)
        + 200 * Decimal("0.1")
        + 100 * Decimal("0.3")
        + 150 * Decimal("1.25")
        + 50 * Decimal(2)
    )
    assert flat.cost(usage) == expected / 10**6
