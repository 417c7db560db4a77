"""Settings: RoutePlex's own `ROUTEPLEX_*` variables, an optional TOML file, and the
providers' own credential variables (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, …).

Precedence, highest first: explicit overrides (CLI flags) > environment > TOML file >
defaults. Nothing here touches the network or the disk beyond reading the file it is given.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ProviderKind = Literal["openai", "anthropic", "gemini"]


class ProviderConfig(BaseModel):
    """One upstream endpoint. An OpenAI-compatible server is just `kind = "openai"`."""

    name: str
    kind: ProviderKind = "openai"
    base_url: str
    api_key: SecretStr | None = None
    api_key_env: str | None = None  # read the key from this variable instead
    # Upstream model names this endpoint serves that the shipped catalog does not know;
    # each becomes the catalog id "<name>/<model>".
    models: list[str] = []
    timeout_s: float = 120.0
    weight: int = 1


class ModelOverride(BaseModel):
    """Per-model catalog and price overrides from the config file (`[models."id"]`)."""

    display_name: str | None = None
    provider: str | None = None  # provider instance name that serves it
    upstream_model: str | None = None
    tier: Literal["default", "premium"] | None = None
    aliases: list[str] | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: dict[str, bool] | None = None
    deprecation_date: str | None = None
    # USD per million tokens; exact decimals.
    input_per_mtok: Decimal | None = None
    output_per_mtok: Decimal | None = None
    cache_read_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTEPLEX_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Request bodies are read into memory only, never spooled; this bounds that memory.
    max_body_bytes: int = 8 * 1024 * 1024
    # How often each process reloads changed keys: the bound on how long a revocation made
    # elsewhere takes to apply here (revocations through this process apply at once).
    key_refresh_s: float = 5.0
    recorder_flush_s: float = 0.5
    recorder_batch_size: int = 500
    recorder_buffer_size: int = 100_000
    metadata_retention_days: int = 90
    upstream_timeout_s: float = 120.0
    # None = simulate when no provider credentials are configured.
    simulate: bool | None = None
    simulator_port: int = 0  # 0 = any free port
    providers: list[ProviderConfig] = []
    models: dict[str, ModelOverride] = {}

    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url")
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ANTHROPIC_API_KEY", "anthropic_api_key")
    )
    anthropic_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("ANTHROPIC_BASE_URL", "anthropic_base_url")
    )
    gemini_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("GEMINI_API_KEY", "gemini_api_key")
    )
    gemini_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("GEMINI_BASE_URL", "gemini_base_url")
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The config file arrives as init kwargs; the environment must win over it.
        return (env_settings, init_settings)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'routeplex.db').resolve()}"

    @property
    def has_provider_credentials(self) -> bool:
        return bool(
            self.openai_api_key or self.anthropic_api_key or self.gemini_api_key or self.providers
        )


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from (in rising precedence) the TOML file, the environment, `overrides`."""
    file_values: dict[str, Any] = {}
    if config_file is not None:
        with config_file.open("rb") as fh:
            file_values = tomllib.load(fh)
    settings = Settings(**file_values)
    if overrides:
        settings = Settings.model_validate({**settings.model_dump(), **overrides})
    return settings
