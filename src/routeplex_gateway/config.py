"""Settings: RoutePlex's own `ROUTEPLEX_*` variables, an optional TOML file, and the
providers' own credential variables (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, …).

Precedence, highest first: explicit overrides (CLI flags) > environment > TOML file >
defaults. Nothing here touches the network or the disk beyond reading the file it is given.
A mistake in the file, a variable or a flag is a `ConfigError` (see `config_problems`).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from .config_problems import ConfigError, explain, explain_flag, read_toml, unknown_key

ProviderKind = Literal["openai", "anthropic", "gemini"]


class ConfigTable(BaseModel):
    """A table in the config file (or a ROUTEPLEX_* JSON value): a misspelt key is refused,
    since ignoring it would silently leave the setting at its default."""

    model_config = ConfigDict(extra="forbid")


class ProviderConfig(ConfigTable):
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


class DeploymentConfig(ConfigTable):
    """One more place a model is served: a configured provider and its name for the model."""

    provider: str
    upstream_model: str | None = None
    weight: int = 1


class ModelOverride(ConfigTable):
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
    # Extra deployments, balanced by weight with the model's own; and, in manual mode, the
    # models to fall back to when every deployment fails.
    deployments: list[DeploymentConfig] | None = None
    fallbacks: list[str] | None = None
    # USD per million tokens; exact decimals.
    input_per_mtok: Decimal | None = None
    output_per_mtok: Decimal | None = None
    cache_read_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None
    cache_write_1h_per_mtok: Decimal | None = None  # Anthropic's 1-hour cache writes
    input_audio_per_mtok: Decimal | None = None
    cache_audio_read_per_mtok: Decimal | None = None


class PlanConfig(ConfigTable):
    """A plan's daily caps and rates. `None` means no cap of that kind; a non-binding plan
    has every limit counted and none enforced."""

    tokens_per_day: int | None = None
    cost_per_day_usd: Decimal | None = None
    rpm: int | None = None
    concurrency: int | None = None
    binding: bool = True


SHIPPED_PLANS: dict[str, PlanConfig] = {
    "evaluation": PlanConfig(
        tokens_per_day=20_000, cost_per_day_usd=Decimal("0.17"), rpm=5, concurrency=1
    ),
    "usage": PlanConfig(
        tokens_per_day=500_000, cost_per_day_usd=Decimal("1.67"), rpm=30, concurrency=5
    ),
    "unlimited": PlanConfig(binding=False),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTEPLEX_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
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
    # Retry a non-streamed call that timed out after it was sent (the provider may already be
    # generating, and would bill that answer too): off unless the operator accepts that.
    retry_started_timeouts: bool = False
    # On SIGTERM: stop accepting, let in-flight requests and streams finish for this long.
    shutdown_grace_s: float = 30.0
    # None = simulate when no provider credentials are configured.
    simulate: bool | None = None
    simulator_port: int = Field(default=0, ge=0, le=65535)  # 0 = any free port
    simulator_url: str | None = None  # set for worker processes by `serve --workers`
    # Shared limits for several workers or replicas; without it limits live in-process.
    redis_url: str | None = None
    # How long a concurrency slot in Redis outlives its holder: the holder renews it every
    # third of this while the request runs, so a replica that dies frees its slots this soon.
    concurrency_lease_s: float = Field(default=30.0, ge=1.0)
    # A PostgreSQL database implies replicas; say so explicitly if this is the only one.
    single_instance: bool = False
    # Custom plans, and changes to the shipped ones, by name.
    plans: dict[str, PlanConfig] = {}
    # The retention job: how often it runs, and how long after a UTC day ends before its
    # billing records are appended (late metadata from buffered writers must have landed).
    retention_interval_s: float = 3600.0
    billing_grace_s: float = 3600.0
    # Signs dashboard session cookies. Unset: a random secret per process, so sessions end
    # when it restarts and do not carry across workers or replicas — set it for those.
    session_secret: SecretStr | None = None
    session_ttl_s: int = 12 * 3600
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
    def all_plans(self) -> dict[str, PlanConfig]:
        return {**SHIPPED_PLANS, **self.plans}

    @property
    def has_provider_credentials(self) -> bool:
        return bool(
            self.openai_api_key or self.anthropic_api_key or self.gemini_api_key or self.providers
        )


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from (in rising precedence) the TOML file, the environment, `overrides`.
    Raises `ConfigError` for a mistake in any of them."""
    file_values: dict[str, Any] = {}
    if config_file is not None:
        file_values = read_toml(config_file)
        problem = unknown_key(file_values, Settings)
        if problem is not None:
            raise ConfigError(f"{config_file}: {problem}")
    try:
        settings = Settings(**file_values)
    except (ValidationError, SettingsError) as exc:
        raise ConfigError(explain(exc, Settings, config_file)) from None
    if not overrides:
        return settings
    try:
        return Settings.model_validate({**settings.model_dump(), **overrides})
    except ValidationError as exc:
        raise ConfigError(explain_flag(exc)) from None


def deployment_problem(settings: Settings, workers: int) -> str | None:
    """Why this process must not start as configured, or None. Without Redis each process
    keeps its own limits, so several of them would silently multiply every cap."""
    if settings.redis_url:
        return None
    if workers > 1:
        return (
            f"--workers {workers} needs shared limits: set ROUTEPLEX_REDIS_URL "
            "(e.g. redis://127.0.0.1:6379/0), or run one worker."
        )
    if settings.resolved_database_url.startswith("postgres") and not settings.single_instance:
        return (
            "A shared PostgreSQL database means replicas, and replicas need shared limits: "
            "set ROUTEPLEX_REDIS_URL, or ROUTEPLEX_SINGLE_INSTANCE=true if this is the only "
            "gateway process using that database."
        )
    return None
