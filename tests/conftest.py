"""Shared fixtures: the upstream simulator and a gateway, each a real server on a real socket."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from routeplex_gateway.app import create_app
from routeplex_gateway.config import Settings
from routeplex_gateway.simulator.answer import AFTER_TOOL_SENTENCE, SENTENCES
from routeplex_gateway.simulator.app import create_simulator_app
from tests.support.servers import serve_in_thread


@pytest.fixture(scope="session")
def simulator_url() -> Iterator[str]:
    with serve_in_thread(create_simulator_app(request_log=True)) as url:
        yield url


@pytest.fixture(autouse=True)
def _clear_simulator_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "simulator_url" in request.fixturenames:
        url = request.getfixturevalue("simulator_url")
        httpx.delete(f"{url}/_simulator/faults")


@dataclass
class RunningGateway:
    """A gateway server plus direct (read-only) access to its SQLite file."""

    url: str
    data_dir: Path
    simulator_url: str
    keys: dict[str, str] = field(default_factory=dict)

    def add_account(self, name: str, *, plan: str = "usage", **key_options: Any) -> str:
        """A new account (or a new key of an existing one); returns the key."""
        from tests.support.accounts import create_account_with_key

        self.keys[name] = create_account_with_key(
            gateway_settings(self.data_dir), name, plan=plan, **key_options
        )
        return self.keys[name]

    @property
    def db_path(self) -> Path:
        return self.data_dir / "routeplex.db"

    def rows(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        with sqlite3.connect(self.db_path) as db:
            db.row_factory = sqlite3.Row
            return list(db.execute(sql, params))

    def metadata(self, *, expect: int, timeout: float = 5.0) -> list[sqlite3.Row]:
        """Wait for the batched writer to have written `expect` metadata rows."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.rows("SELECT * FROM request_metadata ORDER BY created_at")
            if len(rows) >= expect or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)

    def stored_bytes(self) -> bytes:
        """Every byte the gateway wrote under its data directory (database, WAL, anything)."""
        return b"".join(p.read_bytes() for p in sorted(self.data_dir.rglob("*")) if p.is_file())


def gateway_settings(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        **{"recorder_flush_s": 0.05, "key_refresh_s": 0.5, **overrides}, data_dir=data_dir
    )


@pytest.fixture
def gateway(tmp_path: Path, simulator_url: str) -> Iterator[RunningGateway]:
    from tests.support.accounts import create_account_with_key

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = gateway_settings(data_dir)
    running = RunningGateway(url="", data_dir=data_dir, simulator_url=simulator_url)
    running.keys["alice"] = create_account_with_key(settings, "alice")
    with serve_in_thread(
        create_app(settings, simulator_url=simulator_url), settings=settings
    ) as url:
        running.url = url
        yield running
    assert_nothing_sent_was_stored(running)


def assert_nothing_sent_was_stored(running: RunningGateway) -> None:
    """After the server has stopped (metadata flushed): no prompt canary and no answer text
    anywhere in the bytes under the data directory. Every test prompt that matters carries
    the word "canary"; every simulated answer is built from the simulator's sentence bank."""
    stored = running.stored_bytes()
    assert b"canary" not in stored
    for sentence in (*SENTENCES, AFTER_TOOL_SENTENCE):
        assert sentence.encode()[:24] not in stored, sentence
