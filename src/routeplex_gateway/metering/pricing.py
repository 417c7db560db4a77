"""Prices and cost: exact `Decimal` arithmetic, stored as integer pico-dollars.

Prices come from genai-prices (maintained data with cache-read, cache-write and tiered
prices), resolved once per model at start-up; a config file can override any model's
prices. A model with no known price costs `None` — unknown, never zero.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from genai_prices import Usage as PriceUsage
from genai_prices import calc_price

from ..canonical import Usage
from ..providers.descriptor import by_family

PICO = Decimal(10) ** 12
_MTOK = Decimal(1_000_000)


def to_picousd(usd: Decimal) -> int:
    return int((usd * PICO).to_integral_value(rounding=ROUND_HALF_EVEN))


def picousd_to_usd(picousd: int) -> Decimal:
    return Decimal(picousd) / PICO


@dataclass(frozen=True, slots=True)
class FlatPrice:
    """USD per million tokens, one rate per kind of token (genai-prices' flat rates, or an
    override from config). A split with no rate of its own is billed at its parent's rate:
    1-hour cache writes as cache writes, audio as text."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_read_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None
    cache_write_1h_per_mtok: Decimal | None = None
    input_audio_per_mtok: Decimal | None = None
    cache_audio_read_per_mtok: Decimal | None = None

    def cost(self, usage: Usage) -> Decimal:
        cache_read = usage.cache_read_tokens or 0
        cache_write = usage.cache_write_tokens or 0
        # Cached tokens are part of input_tokens; bill them at their own rate when known.
        read_rate = self.cache_read_per_mtok
        write_rate = self.cache_write_per_mtok
        uncached = (usage.input_tokens or 0) - (cache_read if read_rate is not None else 0)
        uncached -= cache_write if write_rate is not None else 0
        total = Decimal(usage.output_tokens or 0) * self.output_per_mtok
        audio_rate = self.input_audio_per_mtok
        if audio_rate is not None:
            # Audio counts include cached audio; what was read from the cache is billed below.
            audio_read = (usage.cache_audio_read_tokens or 0) if read_rate is not None else 0
            audio = (usage.input_audio_tokens or 0) - audio_read
            uncached -= audio
            total += Decimal(audio) * audio_rate
        total += Decimal(uncached) * self.input_per_mtok
        if read_rate is not None:
            audio_read_rate = self.cache_audio_read_per_mtok
            audio_read = (usage.cache_audio_read_tokens or 0) if audio_read_rate is not None else 0
            total += Decimal(cache_read - audio_read) * read_rate
            if audio_read_rate is not None:
                total += Decimal(audio_read) * audio_read_rate
        if write_rate is not None:
            long_rate = self.cache_write_1h_per_mtok
            long_writes = (usage.cache_write_1h_tokens or 0) if long_rate is not None else 0
            total += Decimal(cache_write - long_writes) * write_rate
            if long_rate is not None:
                total += Decimal(long_writes) * long_rate
        return total / _MTOK


class ModelPrice:
    """The price of one model: a config override, or genai-prices' data for it.

    genai-prices' own calculation costs ~70 µs a call, too much twice per request; when a
    model's rates are flat (no tiers) and of kinds `FlatPrice` knows, they are copied into a
    `FlatPrice` once, which computes the same Decimal in a few µs (a test holds the two to
    equality).
    """

    def __init__(self, *, flat: FlatPrice | None = None, genai: Any = None) -> None:
        self._flat = flat if flat is not None else _flat_rates(genai)
        self._genai = genai

    def cost(self, usage: Usage) -> Decimal:
        if self._flat is not None:
            return self._flat.cost(usage)
        price_usage = PriceUsage(
            input_tokens=usage.input_tokens or 0,
            output_tokens=usage.output_tokens or 0,
            cache_read_tokens=usage.cache_read_tokens or 0,
            cache_write_tokens=usage.cache_write_tokens or 0,
            cache_write_1h_tokens=usage.cache_write_1h_tokens or 0,
            input_audio_tokens=usage.input_audio_tokens or 0,
            cache_audio_read_tokens=usage.cache_audio_read_tokens or 0,
        )
        result: dict[str, Decimal] = self._genai.calc_price(price_usage)
        return result["total_price"]

    def per_1k(self) -> tuple[Decimal | None, Decimal | None]:
        """Input and output price per 1,000 tokens (base tier), for catalogs and estimates."""
        if self._genai is not None:
            return _base(self._genai.input_mtok), _base(self._genai.output_mtok)
        assert self._flat is not None
        return self._flat.input_per_mtok / 1000, self._flat.output_per_mtok / 1000


# genai-prices' token rates FlatPrice computes, in FlatPrice's field order.
_FLAT_KEYS = (
    "input_mtok",
    "output_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
    "cache_write_1h_mtok",
    "input_audio_mtok",
    "cache_audio_read_mtok",
)


def _flat_rates(genai: Any) -> FlatPrice | None:
    if genai is None:
        return None
    token_rates = {k for k, v in vars(genai).items() if k.endswith("_mtok") and v is not None}
    if not token_rates <= set(_FLAT_KEYS):
        return None  # a token kind FlatPrice does not price (images, video…): genai-prices
    rates: list[Decimal | None] = []
    for name in _FLAT_KEYS:
        rate = getattr(genai, name, None)
        if rate is not None and not isinstance(rate, Decimal):
            return None  # tiered: leave it to genai-prices
        rates.append(rate)
    input_rate, output_rate, *splits = rates
    if input_rate is None or output_rate is None:
        return None
    return FlatPrice(input_rate, output_rate, *splits)


def _base(rate: Any) -> Decimal | None:
    if rate is None:
        return None
    if isinstance(rate, Decimal):
        return rate / 1000
    return Decimal(rate.base) / 1000  # TieredPrices: the first tier


def lookup_price(model_id: str, family: str) -> ModelPrice | None:
    """genai-prices' price for a model of a built-in provider's family (by its kind or public
    name), or None when genai-prices does not know the model or the provider."""
    descriptor = by_family(family)
    provider_id = descriptor.pricing_id if descriptor is not None else None
    if provider_id is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = calc_price(
                PriceUsage(input_tokens=0, output_tokens=0),
                model_ref=model_id,
                provider_id=provider_id,
            )
    except LookupError:
        return None
    return ModelPrice(genai=result.model_price)


class Pricer:
    """Cost of a usage for a catalog model, with prices resolved once at start-up."""

    def __init__(self, prices: dict[str, ModelPrice | None]) -> None:
        self._prices = prices

    def price(self, model_id: str) -> ModelPrice | None:
        return self._prices.get(model_id)

    def cost_picousd(self, model_id: str, usage: Usage) -> int | None:
        price = self._prices.get(model_id)
        if price is None or not usage.known:
            return None
        return to_picousd(price.cost(usage))
