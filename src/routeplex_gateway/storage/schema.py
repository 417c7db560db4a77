"""The database schema: every table RoutePlex stores, and nothing else (DESIGN.md §4).

This is the current shape, used by queries. The migrations in `storage/migrations/versions`
create it explicitly and must stay in step (a test compares the two on both backends).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    false,
)

from routeplex_gateway.storage.column_types import UTCDateTime, json_type

# Deterministic constraint names, so later migrations can refer to them on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Ids are a prefix plus 16 hex digits (`acc_…`, `key_…`); the width leaves room to grow.
ID_LENGTH = 32

metadata = MetaData(naming_convention=NAMING_CONVENTION)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("email", Text, nullable=True),
    Column("plan", String(64), nullable=False, server_default="evaluation"),
    Column("limits", json_type(), nullable=True),
    Column("settings", json_type(), nullable=True),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # What the account requires of the providers its prompts reach: a requirement's label
    # (`zero-retention, region=eu`), NULL for nothing. Last because 0007 added it.
    Column("data_policy", Text, nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("account_id", String(ID_LENGTH), ForeignKey("accounts.id"), nullable=False),
    Column("name", Text, nullable=True),
    # sha256 of the key, hex. The key itself is never stored.
    Column("key_hash", String(64), nullable=False),
    Column("display_prefix", String(32), nullable=False),
    Column("last4", String(4), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Bumped on every change that matters to authentication or limiting (create, revoke,
    # limits), so replicas can refresh their key caches incrementally. Not by `last_used_day`.
    Column("updated_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("allowed_models", json_type(), nullable=True),
    Column("last_used_day", Date, nullable=True),
    # Per-key caps that may only narrow the account's; interpreted by the limiter, not here.
    # Last because migration 0002 added it to existing tables.
    Column("limits", json_type(), nullable=True),
    # The key's own data-policy requirement, narrowing its account's (label; NULL: none).
    Column("data_policy", Text, nullable=True),
    Index(None, "key_hash", unique=True),
    Index(None, "account_id"),
    Index(None, "updated_at"),
)

# No foreign keys here or on billing_daily: history must never be refused (a batch from the
# recorder is all-or-nothing) and outlives the rows it refers to.
request_metadata = Table(
    "request_metadata",
    metadata,
    Column("request_id", Text, primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("account_id", String(ID_LENGTH), nullable=False),
    Column("key_id", String(ID_LENGTH), nullable=False),
    Column("endpoint", String(64), nullable=False),
    Column("routing_mode", String(32), nullable=False),
    Column("strategy", String(32), nullable=True),
    Column("requested_model", Text, nullable=True),
    Column("served_model", Text, nullable=True),
    Column("provider", String(64), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("fallback_used", Boolean, nullable=False),
    # NULL is "unknown" for every count and for cost; never coalesce to 0 on the way in.
    Column("input_tokens", BigInteger, nullable=True),
    Column("output_tokens", BigInteger, nullable=True),
    Column("cache_read_tokens", BigInteger, nullable=True),
    Column("cache_write_tokens", BigInteger, nullable=True),
    Column("reasoning_tokens", BigInteger, nullable=True),
    Column("cost_picousd", BigInteger, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("ttfb_ms", Integer, nullable=True),
    Column("http_status", Integer, nullable=False),
    Column("error_code", String(64), nullable=True),
    # True when the tokens are the gateway's estimate: a stream cut short before the provider
    # reported usage (its prompt and the output relayed so far).
    Column("usage_estimated", Boolean, nullable=False, server_default=false()),
    # The data-policy requirement applied (label), whether it held (NULL: none applied), and
    # the policy of the deployment asked last (label). Added by 0007.
    Column("data_policy_required", Text, nullable=True),
    Column("data_policy_met", Boolean, nullable=True),
    Column("data_policy_served", Text, nullable=True),
    Index(None, "account_id", "created_at"),
    Index(None, "created_at"),
)

# Append-only: a row is inserted once its UTC day is closed and never updated. The primary key
# is the (day, account, model) uniqueness that makes appending idempotent.
billing_daily = Table(
    "billing_daily",
    metadata,
    Column("day", Date, nullable=False),
    Column("account_id", String(ID_LENGTH), nullable=False),
    Column("model", Text, nullable=False),
    Column("requests", BigInteger, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cache_read_tokens", BigInteger, nullable=False),
    Column("cache_write_tokens", BigInteger, nullable=False),
    Column("reasoning_tokens", BigInteger, nullable=False),
    # Sum of the known costs; NULL when no request of the group had a known price.
    Column("cost_picousd", BigInteger, nullable=True),
    # Requests a model answered without a known price. Rows appended before 0004 counted every
    # request without a cost here, refusals included.
    Column("unknown_cost_requests", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Requests refused before any provider call. NULL on rows appended before migration 0004
    # (not counted then: unknown, not zero). Last because 0004 added it to existing tables.
    Column("refused_requests", BigInteger, nullable=True),
    PrimaryKeyConstraint("day", "account_id", "model"),
    Index(None, "account_id", "day"),
)

# Operators' keys for the admin API and the dashboard: like API keys, only a hash is stored.
admin_keys = Table(
    "admin_keys",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("name", Text, nullable=True),
    Column("key_hash", String(64), nullable=False),
    Column("display_prefix", String(32), nullable=False),
    Column("last4", String(4), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Index(None, "key_hash", unique=True),
)

# Dashboard sessions ended by signing out, so every replica refuses their cookies: the
# SHA-256 of the session's nonce, never the nonce. A row is deleted once the session it
# names would have expired anyway.
revoked_sessions = Table(
    "revoked_sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=False),
    Index(None, "revoked_at"),
)
