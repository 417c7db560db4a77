"""Settings: RoutePlex's own `ROUTEPLEX_*` variables, an optional TOML file, and the
built-in providers' own variables (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, …), whose names their
descriptors give (`providers.descriptor`).

Precedence, highest first: explicit overrides (CLI flags) > environment > TOML file >
defaults. Nothing here touches the network; the disk only to read the file it is given and to
make the data directory. A mistake in the file, a variable or a flag — a misspelt key, a value
of the wrong type or out of range, a URL of the wrong scheme, a data directory that cannot be
one — is a `ConfigError` (see `config_problems`), found before any command acts on it.
"""

from __future__ import annotations

import errno
import functools
import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from .config_problems import (
    ConfigError,
    explain,
    explain_flag,
    origin,
    read_toml,
    unknown_key,
)
from .config_values import (
    Count,
    DatabaseUrl,
    HttpUrl,
    Networks,
    Port,
    ProviderKind,
    RedisUrl,
    Seconds,
)
from .data_policy import DataPolicy, DataPolicyError, region_codes
from .providers.descriptor import DEFAULT_KIND, Descriptor, builtin
from .storage.private_files import make_private_directory


class ConfigTable(BaseModel):
    """A table in the config file (or a ROUTEPLEX_* JSON value): a misspelt key is refused,
    since ignoring it would silently leave the setting at its default."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _regions(values: list[str]) -> list[str]:
    try:
        return sorted(region_codes(values))
    except DataPolicyError as bad:
        raise ValueError(str(bad)) from None


class DataPolicyConfig(ConfigTable):
    """What a provider does with the traffic it is sent, as the operator knows it
    (`data_policy = {retention_days = 0, trains_on_data = false, regions = ["eu"]}`); a field
    left out keeps the built-in provider's published default, or stays unknown. Strict: a
    claim about someone's prompts is never read out of a value of another type (`false` is
    not 0 days, `"no"` is not false)."""

    retention_days: Annotated[int, Field(ge=0, le=36_500, strict=True)] | None = None
    trains_on_data: Annotated[bool, Field(strict=True)] | None = None
    regions: Annotated[list[str], Field(min_length=1), AfterValidator(_regions)] | None = None

    def policy(self) -> DataPolicy:
        return DataPolicy(
            retention_days=self.retention_days,
            trains_on_data=self.trains_on_data,
            regions=frozenset(self.regions) if self.regions is not None else None,
        )


class ProviderConfig(ConfigTable):
    """One upstream endpoint: `kind` is the wire format it speaks, so an OpenAI-compatible
    server is just `kind = "openai"` (the default)."""

    name: str
    kind: ProviderKind = DEFAULT_KIND
    base_url: HttpUrl
    api_key: SecretStr | None = None
    api_key_env: str | None = None  # read the key from this variable instead
    # Upstream model names this endpoint serves that the shipped catalog does not know;
    # each becomes the catalog id "<name>/<model>".
    models: list[str] = []
    # Its embedding models the same way (catalog id "<name>/<model>"), each with the length
    # of the vectors it answers (`embedding_models = { "bge-m3" = 1024 }`).
    embedding_models: dict[str, Count] = {}
    timeout_s: Seconds = 120.0
    weight: Count = 1
    # Over the built-in provider's published policy (`providers.descriptor`), if it is one.
    data_policy: DataPolicyConfig | None = None


class DeploymentConfig(ConfigTable):
    """One more place a model is served: a configured provider and its name for the model."""

    provider: str
    upstream_model: str | None = None
    weight: Count = 1
    # Over its provider's policy, for this deployment only (a region-pinned model name).
    data_policy: DataPolicyConfig | None = None


class EmbeddingConfig(ConfigTable):
    """What makes a catalog model an embedding model: the length of its vectors, and whether
    it answers shorter ones on request (OpenAI's `dimensions`)."""

    dimensions: Count
    custom_dimensions: bool = False


class ModelOverride(ConfigTable):
    """Per-model catalog and price overrides from the config file (`[models."id"]`)."""

    display_name: str | None = None
    provider: str | None = None  # provider instance name that serves it
    upstream_model: str | None = None
    tier: Literal["default", "premium"] | None = None
    aliases: list[str] | None = None
    context_window: Count | None = None
    max_output_tokens: Count | None = None
    capabilities: dict[str, bool] | None = None
    deprecation_date: str | None = None
    embedding: EmbeddingConfig | None = None  # an embedding model (served on /v1/embeddings)
    # Extra deployments, balanced by weight with the model's own; and, in manual mode, the
    # models to fall back to when every deployment fails.
    deployments: list[DeploymentConfig] | None = None
    fallbacks: list[str] | None = None
    # Over its provider's policy, for the model's own deployments.
    data_policy: DataPolicyConfig | None = None
    # USD per million tokens; exact decimals.
    input_per_mtok: Annotated[Decimal, Field(ge=0)] | None = None
    output_per_mtok: Annotated[Decimal, Field(ge=0)] | None = None
    cache_read_per_mtok: Annotated[Decimal, Field(ge=0)] | None = None
    cache_write_per_mtok: Annotated[Decimal, Field(ge=0)] | None = None
    # Anthropic's 1-hour cache writes, and Gemini's audio input and audio cache reads.
    cache_write_1h_per_mtok: Annotated[Decimal, Field(ge=0)] | None = None
    input_audio_per_mtok: Annotated[Decimal, Field(ge=0)] | None = None
    cache_audio_read_per_mtok: Annotated[Decimal, Field(ge=0)] | None = None


class PlanConfig(ConfigTable):
    """A plan's daily caps and rates. `None` means no cap of that kind; a non-binding plan
    has every limit counted and none enforced."""

    # The bounds `limits.plans.validate_limits` puts on an account's own overrides.
    tokens_per_day: Annotated[int, Field(ge=0)] | None = None
    cost_per_day_usd: Annotated[Decimal, Field(ge=0, le=1_000_000_000)] | None = None
    rpm: Annotated[int, Field(ge=0)] | None = None
    concurrency: Annotated[int, Field(ge=0)] | None = None
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
    # Flags are assigned after the environment and the file are read (they win over both),
    # and are checked as those are.
    model_config = SettingsConfigDict(
        env_prefix="ROUTEPLEX_", extra="ignore", allow_inf_nan=False, validate_assignment=True
    )

    data_dir: Path = Path("data")
    database_url: DatabaseUrl | None = None
    # Never empty: an empty address means every interface to the server underneath.
    host: str = Field(default="127.0.0.1", min_length=1)
    port: Port = 8080
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated IPs or
    # CIDRs). Anyone else's are ignored: they would let a client pick the address its failed
    # keys count against — dodging the throttle, or pinning it on someone else.
    trusted_proxies: Networks = ""
    # Request bodies are read into memory only, never spooled; this bounds that memory.
    max_body_bytes: Count = 8 * 1024 * 1024
    # What one client can make a process hold (see `protocol.py`): header size and count (431
    # above; 414 for a longer request line), time to send the headers and the body (408),
    # idle keep-alive, and connections open at once (503 past it). The time bounds are on
    # receiving a request, never on sending a response: a stream may run as long as it runs.
    max_header_line_bytes: Count = 8 * 1024
    max_header_bytes: Count = 32 * 1024
    max_headers: Count = 100
    header_timeout_s: Seconds = 10.0
    body_timeout_s: Seconds = 30.0
    keepalive_timeout_s: Seconds = 5.0
    max_connections: Count = 1000
    # How often each process reloads changed keys: the bound on how long a revocation made
    # elsewhere takes to apply here (revocations through this process apply at once).
    key_refresh_s: Seconds = 5.0
    recorder_flush_s: Seconds = 0.5
    recorder_batch_size: Count = 500
    recorder_buffer_size: Count = 100_000
    metadata_retention_days: Count = 90
    upstream_timeout_s: Seconds = 120.0
    # Retry a non-streamed call that timed out after it was sent (the provider may already be
    # generating, and would bill that answer too): off unless the operator accepts that.
    retry_started_timeouts: bool = False
    # On SIGTERM: stop accepting, let in-flight requests and streams finish for this long.
    shutdown_grace_s: float = Field(default=30.0, ge=0)
    # None = simulate when no provider credentials are configured.
    simulate: bool | None = None
    simulator_port: Port = 0  # 0 = any free port
    simulator_url: HttpUrl | None = None  # set for worker processes by `serve --workers`
    # Shared limits for several workers or replicas; without it limits live in-process.
    redis_url: RedisUrl | None = None
    # How long a concurrency slot in Redis outlives its holder: the holder renews it every
    # third of this while the request runs, so a replica that dies frees its slots this soon.
    concurrency_lease_s: float = Field(default=30.0, ge=1.0, allow_inf_nan=False)
    # A PostgreSQL database implies replicas; say so explicitly if this is the only one.
    single_instance: bool = False
    # Custom plans, and changes to the shipped ones, by name.
    plans: dict[str, PlanConfig] = {}
    # The retention job: how often it runs, and how long after a UTC day ends before its
    # billing records are appended (late metadata from buffered writers must have landed).
    retention_interval_s: Seconds = 3600.0
    billing_grace_s: float = Field(default=3600.0, ge=0)
    # Signs dashboard session cookies. Unset: a random secret per process, so sessions end
    # when it restarts and do not carry across workers or replicas — set it for those.
    session_secret: SecretStr | None = None
    session_ttl_s: Count = 12 * 3600
    providers: list[ProviderConfig] = []
    # Data policies by provider name (a built-in's, `openai`, or a `[[providers]]` entry's),
    # over its published default: `[data_policies] openai = { regions = ["eu"] }`.
    data_policies: dict[str, DataPolicyConfig] = {}
    models: dict[str, ModelOverride] = {}

    # The built-in providers' own variables, by setting name (`openai_api_key`): not fields,
    # since the descriptors name them (see `_gather_provider_variables`).
    _provider_variables: dict[str, Any] = PrivateAttr(default_factory=dict)

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
        return (env_settings, _ProviderEnvironment(settings_cls), init_settings)

    @model_validator(mode="wrap")
    @classmethod
    def _gather_provider_variables(
        cls, data: Any, handler: ValidatorFunctionWrapHandler
    ) -> Settings:
        """Take the built-in providers' variables out of the input and check them on their
        own: from the environment (`_ProviderEnvironment`), or from the file or the caller by
        setting name or variable name, in any case (`openai_api_key`, `OPENAI_API_KEY`)."""
        if not isinstance(data, dict):
            settings: Settings = handler(data)
            return settings
        rest = dict(data)
        from_environment: dict[str, Any] = rest.pop(_FROM_ENVIRONMENT, {})
        names = {name for descriptor in builtin() for name in descriptor.settings}
        given = {key.lower(): rest.pop(key) for key in list(rest) if key.lower() in names}
        variables = provider_variables_model(builtin()).model_validate(
            {**given, **from_environment}
        )
        settings = handler(rest)
        settings._provider_variables = dict(variables)
        return settings

    @field_validator("data_policies")
    @classmethod
    def _policies_name_providers(
        cls, policies: dict[str, DataPolicyConfig], info: ValidationInfo
    ) -> dict[str, DataPolicyConfig]:
        # A misspelt name would leave the provider's published policy in force unnoticed,
        # a declared `trains_on_data = true` lost with it.
        builtins = {name for descriptor in builtin() for name in (descriptor.name, descriptor.kind)}
        configured = {provider.name for provider in info.data.get("providers", ())}
        for name in policies:
            if name not in builtins | configured:
                raise ValueError(
                    f"'{name}' is neither a built-in provider ({', '.join(sorted(builtins))}) "
                    "nor the name of a [[providers]] entry"
                )
        return policies

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'routeplex.db').resolve()}"

    @property
    def all_plans(self) -> dict[str, PlanConfig]:
        return {**SHIPPED_PLANS, **self.plans}

    def provider_variables(self, descriptor: Descriptor) -> tuple[SecretStr | None, str | None]:
        """A built-in provider's key and base URL, as its variables (or the file) set them."""
        key, base_url = descriptor.settings
        return self._provider_variables.get(key), self._provider_variables.get(base_url)

    @property
    def has_provider_credentials(self) -> bool:
        keys = (self.provider_variables(descriptor)[0] for descriptor in builtin())
        return any(keys) or bool(self.providers)


# Where `_ProviderEnvironment` hands over what it read: not a setting name, so it cannot
# come from anywhere else.
_FROM_ENVIRONMENT = " provider environment"


class _ProviderEnvironment(PydanticBaseSettingsSource):
    """The built-in providers' own variables (`OPENAI_API_KEY`: no ROUTEPLEX_ prefix),
    matched without regard to case as the ROUTEPLEX_* ones are."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # reads no field of its own: see __call__

    def __call__(self) -> dict[str, Any]:
        environment = {name.lower(): value for name, value in os.environ.items()}
        names = (name for descriptor in builtin() for name in descriptor.settings)
        found = {name: environment[name] for name in names if name in environment}
        return {_FROM_ENVIRONMENT: found} if found else {}


@functools.cache
def provider_variables_model(descriptors: tuple[Descriptor, ...]) -> type[ConfigTable]:
    """The built-in providers' variables as settings: a key and a base URL each, read from
    the variable the descriptor names or the setting of that name in lower case."""
    fields: dict[str, Any] = {}
    for descriptor in descriptors:
        key, base_url = descriptor.settings
        fields[key] = (
            SecretStr | None,
            Field(default=None, validation_alias=AliasChoices(descriptor.key_env, key)),
        )
        fields[base_url] = (
            HttpUrl | None,
            Field(default=None, validation_alias=AliasChoices(descriptor.base_url_env, base_url)),
        )
    return create_model("ProviderVariables", __base__=ConfigTable, **fields)


@functools.cache
def _file_schema(descriptors: tuple[Descriptor, ...]) -> type[BaseSettings]:
    """Every setting the file and the environment may hold, the providers' variables
    included: what a mistake in either is checked and explained against."""
    variables = provider_variables_model(descriptors).model_fields
    fields: dict[str, Any] = {name: (info.annotation, info) for name, info in variables.items()}
    return create_model("Settings", __base__=Settings, **fields)


def load_settings(
    config_file: Path | None = None, *, make_data_dir: bool = True, **overrides: Any
) -> Settings:
    """Settings from (in rising precedence) the TOML file, the environment, `overrides`, with
    the data directory made unless told not to (a read-only command writes nothing). Raises
    `ConfigError` for a mistake in any of them."""
    file_values: dict[str, Any] = {}
    if config_file is not None:
        file_values = read_toml(config_file)
        problem = unknown_key(file_values, _file_schema(builtin()))
        if problem is not None:
            raise ConfigError(f"{config_file}: {problem}")
    try:
        settings = Settings(**file_values)
    except (ValidationError, SettingsError) as exc:
        raise ConfigError(explain(exc, _file_schema(builtin()), config_file)) from None
    try:
        # Assigned, not passed to the constructor, where the environment would win.
        for name, value in overrides.items():
            setattr(settings, name, value)
    except ValidationError as exc:
        raise ConfigError(explain_flag(exc)) from None
    if make_data_dir and settings.database_url is None:
        _make_data_dir(settings, origin(Settings, "data_dir", config_file, file_values, overrides))
    return settings


def _make_data_dir(settings: Settings, where: str) -> None:
    """Made here, where a path that cannot be a directory is the user's mistake in one line,
    not a traceback from whichever command writes there first (it holds the SQLite file)."""
    path = settings.data_dir
    try:
        make_private_directory(path)  # 0700: it holds key hashes, emails and usage
    except FileExistsError:
        reason = os.strerror(errno.ENOTDIR)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    else:
        if os.access(path, os.W_OK | os.X_OK):
            return
        reason = os.strerror(errno.EACCES)
    raise ConfigError(f"{where}: cannot use {path} as the data directory ({reason})")


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
