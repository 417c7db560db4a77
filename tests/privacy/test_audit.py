"""`routeplex privacy-audit`, run as an operator would: it lists exactly what the schema
stores (and the README says the same), passes a clean database, and fails — naming where,
never repeating the value — on free text planted in the database or in Redis."""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from sqlalchemy import JSON

from routeplex_gateway.config import Settings
from routeplex_gateway.privacy import TEXT_KINDS, describe
from routeplex_gateway.storage.schema import metadata
from tests.support.accounts import create_account_with_key
from tests.support.services import fresh_postgres_database, require_redis
from tests.test_cli import ROUTEPLEX

README = Path(__file__).resolve().parents[2] / "README.md"
PLANTED = "please summarise the attached medical records for my appointment"


def audit(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEPLEX_")}
    return subprocess.run(
        [ROUTEPLEX, "privacy-audit"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**base, **env},
    )


def cli(env: dict[str, str], *args: str) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEPLEX_")}
    done = subprocess.run(
        [ROUTEPLEX, *args], capture_output=True, text=True, timeout=60, env={**base, **env}
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    """An account and a key, made in process (the audit is the command under test)."""
    create_account_with_key(Settings(data_dir=tmp_path / "data"), "acme")
    with sqlite3.connect(tmp_path / "data" / "routeplex.db") as db:
        db.execute("UPDATE api_keys SET name = 'CI deploy key'")  # a label with spaces is fine
    return {"ROUTEPLEX_DATA_DIR": str(tmp_path / "data")}


def readme_section() -> str:
    text = README.read_text()
    start = text.index("## What RoutePlex stores")
    return text[start : text.index("\n## ", start + 1)]


def test_every_text_column_has_a_declared_shape() -> None:
    # A new text column must be classified here before the audit can vouch for it.
    for table in metadata.tables.values():
        for column in table.columns:
            python_type = column.type.python_type if not isinstance(column.type, JSON) else dict
            if python_type is str:
                assert column.name in TEXT_KINDS, f"{table.name}.{column.name} has no shape"


def test_readme_says_exactly_what_the_audit_prints(sqlite_env: dict[str, str]) -> None:
    result = audit(sqlite_env)
    assert result.returncode == 0, result.stdout + result.stderr
    block = describe(90)
    assert block in result.stdout
    assert block in readme_section(), "README 'What RoutePlex stores' differs from the audit"


def test_clean_database_passes(sqlite_env: dict[str, str]) -> None:
    result = audit(sqlite_env)
    assert result.returncode == 0, result.stdout
    assert "| `request_metadata` |" in result.stdout
    assert "6 tables, 2 rows" in result.stdout
    assert "Nothing looks like request content." in result.stdout


def test_retention_follows_the_setting(sqlite_env: dict[str, str]) -> None:
    result = audit({**sqlite_env, "ROUTEPLEX_METADATA_RETENTION_DAYS": "30"})
    assert "| 30 days (`ROUTEPLEX_METADATA_RETENTION_DAYS`) |" in result.stdout


def test_missing_database_is_not_created(tmp_path: Path) -> None:
    result = audit({"ROUTEPLEX_DATA_DIR": str(tmp_path / "none")})
    assert result.returncode == 0 and "does not exist yet" in result.stdout
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize(
    ("sql", "where"),
    [
        ("UPDATE accounts SET settings = json_object('note', :v)", "accounts.settings (id=acc_"),
        ("UPDATE api_keys SET name = :v", "api_keys.name (id=key_"),
        (
            "INSERT INTO request_metadata (request_id, created_at, account_id, key_id, endpoint,"
            " routing_mode, strategy, attempts, fallback_used, latency_ms, http_status) VALUES"
            " ('req_00112233445566778899aabb', '2026-01-01 00:00:00.000000',"
            " 'acc_0011223344556677', 'key_0011223344556677', 'native.chat', 'manual', :v,"
            " 1, 0, 5, 200)",
            "request_metadata.strategy (request_id=req_00112233445566778899aabb)",
        ),
        (
            "INSERT INTO request_metadata (request_id, created_at, account_id, key_id, endpoint,"
            " routing_mode, attempts, fallback_used, latency_ms, http_status) VALUES"
            " (:v, '2026-01-01 00:00:00.000000', 'acc_0011223344556677', 'key_0011223344556677',"
            " 'native.chat', 'manual', 1, 0, :v, 200)",
            "request_metadata.latency_ms (row 1)",
        ),
    ],
    ids=["accounts.settings", "api_keys.name", "metadata.strategy", "text-in-number+key"],
)
def test_planted_free_text_fails_without_repeating_it(
    sqlite_env: dict[str, str], sql: str, where: str
) -> None:
    with sqlite3.connect(Path(sqlite_env["ROUTEPLEX_DATA_DIR"]) / "routeplex.db") as db:
        db.execute(sql.replace(":v", "?"), (PLANTED,) * sql.count(":v"))
    result = audit(sqlite_env)
    assert result.returncode == 1, result.stdout
    assert where in result.stdout
    assert "look like content" in result.stdout
    for word in ("summarise", "medical", "appointment"):
        assert word not in result.stdout + result.stderr


def test_planted_redis_value_fails(sqlite_env: dict[str, str]) -> None:
    url = urlsplit(require_redis())
    # A database of its own, so no other gateway's audit can see the planted key.
    redis_url = urlunsplit(url._replace(path="/13"))
    key = f"routeplex:audit-test:{secrets.token_hex(4)}"

    async def plant(value: str | None) -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(redis_url)
        try:
            await (client.set(key, value) if value else client.delete(key))
        finally:
            await client.aclose()

    env = {**sqlite_env, "ROUTEPLEX_REDIS_URL": redis_url}
    asyncio.run(plant(PLANTED))
    try:
        result = audit(env)
    finally:
        asyncio.run(plant(None))
    assert result.returncode == 1, result.stdout
    assert f"redis {key}: not a number or id" in result.stdout
    assert "medical" not in result.stdout
    assert audit(env).returncode == 0


def test_planted_free_text_in_postgresql_fails() -> None:
    with fresh_postgres_database() as database_url:
        env = {"ROUTEPLEX_DATABASE_URL": database_url, "ROUTEPLEX_SINGLE_INSTANCE": "true"}
        cli(env, "accounts", "create", "acme")
        clean = audit(env)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert "Scanned the postgresql database: 6 tables, 1 rows." in clean.stdout

        async def plant() -> None:
            connection = await asyncpg.connect(database_url)
            try:
                await connection.execute(
                    "UPDATE accounts SET settings = jsonb_build_object('note', $1::text)", PLANTED
                )
            finally:
                await connection.close()

        asyncio.run(plant())
        result = audit(env)
        assert result.returncode == 1, result.stdout
        assert "accounts.settings (id=acc_" in result.stdout
        assert "medical" not in result.stdout
