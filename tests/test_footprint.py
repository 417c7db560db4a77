"""A running server's footprint: it holds only the code it uses, and what start-up built is
kept out of the cyclic garbage collector's way.

Resident memory is one of the performance targets (bench/RESULTS.md), and most of a Python
server's memory is the code it has imported: Alembic is loaded only to migrate, redis-py (and
the OpenTelemetry SDK it brings) only when limits live in Redis. Tail latency is another: a
full collection that walks every start-up object pauses every stream in flight.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.services import require_redis

START_AND_STOP = """
import asyncio, gc, json, sys, time
from routeplex_gateway.app import app_from_environment

app = app_from_environment()
found = {}

async def main() -> None:
    async with app.router.lifespan_context(app):
        found["frozen"] = gc.get_freeze_count()
        found["threshold"] = gc.get_threshold()
        started = time.perf_counter()
        gc.collect()
        found["full_collection_ms"] = (time.perf_counter() - started) * 1000

asyncio.run(main())
found["modules"] = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps(found))
"""


def _start_and_stop(data_dir: Path, **env: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", START_AND_STOP],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={
            **os.environ,
            "ROUTEPLEX_DATA_DIR": str(data_dir),
            "OPENAI_API_KEY": "sk-test",
            **env,
        },
    )
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def _loaded_by_a_server(data_dir: Path, **env: str) -> set[str]:
    return set(_start_and_stop(data_dir, **env)["modules"])


def test_a_restarted_server_loads_neither_alembic_nor_redis(tmp_path: Path) -> None:
    first = _loaded_by_a_server(tmp_path)
    assert "alembic" in first  # the new database was migrated
    again = _loaded_by_a_server(tmp_path)
    assert {"alembic", "mako", "redis", "opentelemetry"} & again == set()
    # The working set, as a check (a provider's module and aiohttp load with its first call).
    assert {"sqlalchemy", "starlette"} <= again


def test_redis_is_loaded_when_limits_live_there(tmp_path: Path) -> None:
    _loaded_by_a_server(tmp_path)
    assert "redis" in _loaded_by_a_server(tmp_path, ROUTEPLEX_REDIS_URL=require_redis())


def test_start_up_objects_are_frozen_out_of_the_collectors_way(tmp_path: Path) -> None:
    found = _start_and_stop(tmp_path)
    assert found["frozen"] > 50_000  # modules, catalog, caches: everything start-up made
    # Unfrozen, this took ~60 ms on the benchmark machine; frozen, well under one.
    assert found["full_collection_ms"] < 20
    assert found["threshold"][0] >= 10_000  # young collections are rare
