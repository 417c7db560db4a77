"""A running server holds only the code it uses: what is not configured is never imported.

Resident memory is one of the performance targets (bench/RESULTS.md), and most of a Python
server's memory is the code it has imported: Alembic is loaded only to migrate, redis-py (and
the OpenTelemetry SDK it brings) only when limits live in Redis.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.services import require_redis

START_AND_STOP = """
import asyncio, sys
from routeplex_gateway.app import app_from_environment

app = app_from_environment()

async def main() -> None:
    async with app.router.lifespan_context(app):
        pass

asyncio.run(main())
print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _loaded_by_a_server(data_dir: Path, **env: str) -> set[str]:
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
    return set(done.stdout.split())


def test_a_restarted_server_loads_neither_alembic_nor_redis(tmp_path: Path) -> None:
    first = _loaded_by_a_server(tmp_path)
    assert "alembic" in first  # the new database was migrated
    again = _loaded_by_a_server(tmp_path)
    assert {"alembic", "mako", "redis", "opentelemetry"} & again == set()
    assert {"sqlalchemy", "aiohttp", "starlette"} <= again  # the working set, as a check


def test_redis_is_loaded_when_limits_live_there(tmp_path: Path) -> None:
    _loaded_by_a_server(tmp_path)
    assert "redis" in _loaded_by_a_server(tmp_path, ROUTEPLEX_REDIS_URL=require_redis())
