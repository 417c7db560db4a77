"""The provider descriptors: everything the rest of the gateway knows about each built-in
provider, in one place.

Configuration (the providers' own variables), the catalog's deployments, pricing, token
estimates and the simulated mode all read `BUILTIN` instead of naming a provider, so adding
one is its module, one `Descriptor` here and its models in `routing/models.toml`.

This module imports no provider module (they load on first use), so the configuration can
read the descriptors without pulling in the HTTP clients.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from ..data_policy import UNKNOWN, DataPolicy

if TYPE_CHECKING:
    from ..canonical import Provider


class Auth(Enum):
    """How a provider is sent its key; the value is the header that carries it."""

    BEARER = "authorization"  # `Authorization: Bearer <key>`
    X_API_KEY = "x-api-key"
    X_GOOG_API_KEY = "x-goog-api-key"

    def headers(self, key: str) -> dict[str, str]:
        """The header that sends `key` (none without a key: keyless local servers)."""
        if not key:
            return {}
        return {self.value: f"Bearer {key}" if self is Auth.BEARER else key}


@dataclass(frozen=True, slots=True, kw_only=True)
class Descriptor:
    """A built-in provider.

    `kind` is its wire format and its name in configuration (`kind = "gemini"` in a
    `[[providers]]` table, `provider = "gemini"` in models.toml); `name` is what the public
    API calls it — in responses, the model list and the metadata — which is the name
    RoutePlex's official SDKs use (`openai`, `anthropic`, `google`).
    """

    kind: str
    name: str
    # Its own variables, read as they are named (no ROUTEPLEX_ prefix); lower-cased, they
    # are also the settings' names in the config file (`openai_api_key = "…"`).
    key_env: str
    base_url_env: str
    default_base_url: str
    auth: Auth
    # Its provider id in genai-prices; None when genai-prices has no prices for it.
    pricing_id: str | None
    # The simulator wire format that stands in for it in simulated mode
    # (`simulator.formats.FORMATS`); None leaves it out of simulated mode.
    simulator_format: str | None
    # The class serving its wire format, made once per process on first use.
    make: Callable[[], Provider]
    # True when the gateway's tokenizer (o200k) is the one its models count with, so an
    # estimate of their tokens is exact rather than approximate.
    exact_tokenizer: bool = False
    # True when it serves OpenAI's Responses API (`POST {base}/responses`): a request in
    # that format is forwarded to it as the caller sent it. OpenAI-compatible servers speak
    # Chat Completions only, so a configured endpoint of the same kind never gets it.
    responses_api: bool = False
    # What its published API data policy says it does with the traffic (README, "Where
    # prompts go"); what it does not say stays unknown. Operators override it per endpoint.
    data_policy: DataPolicy = UNKNOWN

    @property
    def settings(self) -> tuple[str, str]:
        """The names of its key and base URL settings (`openai_api_key`, `openai_base_url`)."""
        return self.key_env.lower(), self.base_url_env.lower()


def _load(module: str, cls: str) -> Callable[[], Provider]:
    """A factory that imports `providers.<module>` when the first instance is made."""

    def make() -> Provider:
        provider: Provider = getattr(importlib.import_module(f"{__package__}.{module}"), cls)()
        return provider

    return make


BUILTIN: tuple[Descriptor, ...] = (
    Descriptor(
        kind="openai",
        name="openai",
        key_env="OPENAI_API_KEY",
        base_url_env="OPENAI_BASE_URL",
        default_base_url="https://api.openai.com/v1",
        auth=Auth.BEARER,
        pricing_id="openai",
        simulator_format="openai",
        make=_load("openai", "OpenAIProvider"),
        exact_tokenizer=True,
        responses_api=True,
        # developers.openai.com/api/docs/guides/your-data: abuse-monitoring logs "retained
        # for up to 30 days" by default (zero retention only on OpenAI's approval); "As of
        # March 1, 2023, data sent to the OpenAI API is not used to train or improve OpenAI
        # models". No default region is published (data residency is a per-project option:
        # guides/data-residency), so regions stay unknown.
        data_policy=DataPolicy(retention_days=30, trains_on_data=False),
    ),
    Descriptor(
        kind="anthropic",
        name="anthropic",
        key_env="ANTHROPIC_API_KEY",
        base_url_env="ANTHROPIC_BASE_URL",
        default_base_url="https://api.anthropic.com",
        auth=Auth.X_API_KEY,
        pricing_id="anthropic",
        simulator_format="anthropic",
        make=_load("anthropic", "AnthropicProvider"),
        # privacy.anthropic.com/en/articles/7996866: "we automatically delete inputs and
        # outputs on our backend within 30 days" (zero retention by arrangement only);
        # privacy.claude.com/en/articles/7996875: "We do not use API data for training";
        # platform.claude.com/docs/en/build-with-claude/data-residency: by default
        # "Inference may run in any available geography" (`global`).
        data_policy=DataPolicy(
            retention_days=30, trains_on_data=False, regions=frozenset({"global"})
        ),
    ),
    Descriptor(
        kind="gemini",
        name="google",
        key_env="GEMINI_API_KEY",
        base_url_env="GEMINI_BASE_URL",
        default_base_url="https://generativelanguage.googleapis.com",
        auth=Auth.X_GOOG_API_KEY,
        pricing_id="google",
        simulator_format="gemini",
        make=_load("gemini", "GeminiProvider"),
        # ai.google.dev/gemini-api/docs/usage-policies: "Google retains the following data
        # for fifty-five (55) days" for abuse monitoring. Training depends on the key's
        # project: Unpaid Services' content is used "to provide, improve, and develop Google
        # products", Paid Services' is not (ai.google.dev/gemini-api/terms): unknown here
        # until the operator says (`trains_on_data = false` for a billed project).
        # firebase.google.com/docs/ai-logic/locations: requests are "handled by an
        # available model anywhere in the global pool".
        data_policy=DataPolicy(retention_days=55, regions=frozenset({"global"})),
    ),
)
# The wire format of a configured endpoint that names none (`[[providers]]` without `kind`):
# most servers that are not one of the built-ins speak OpenAI's.
DEFAULT_KIND = "openai"


def builtin() -> tuple[Descriptor, ...]:
    """The built-in providers. Read at call time, never copied at import, so every caller
    sees the same list (and a test may add to it)."""
    return BUILTIN


def by_kind(kind: str) -> Descriptor | None:
    return next((d for d in builtin() if d.kind == kind), None)


def by_family(family: str) -> Descriptor | None:
    """The built-in a model family names: by its public name (`google`) or kind (`gemini`)."""
    return next((d for d in builtin() if family in (d.name, d.kind)), None)


def public_name(kind: str) -> str:
    """The public name of a provider family, from its wire format."""
    descriptor = by_kind(kind)
    return descriptor.name if descriptor is not None else kind
