"""A replica killed mid-stream (kill -9: no cleanup of any kind) frees its concurrency slots
within seconds: the holder renews its Redis lease while the request runs, so the lease can
be short, and lapses soon after the holder dies."""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import ExitStack

import httpx

from tests.support.services import fresh_postgres_database, require_redis
from tests.test_replicas import account, cli, replica

LEASE_S = 3


MESSAGES = [{"role": "user", "content": "hi"}]


def _chat(url: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "max_tokens": 20, "messages": MESSAGES},
        headers={"Authorization": f"Bearer {key}"},
        timeout=20,
    )


def test_a_killed_replica_frees_its_slot_within_the_lease(simulator_url: str) -> None:
    redis_url = require_redis()
    with ExitStack() as stack:
        database_url = stack.enter_context(fresh_postgres_database())
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ROUTEPLEX_")},
            "ROUTEPLEX_DATABASE_URL": database_url,
            "ROUTEPLEX_REDIS_URL": redis_url,
            "ROUTEPLEX_CONCURRENCY_LEASE_S": str(LEASE_S),
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": f"{simulator_url}/v1",
            "ROUTEPLEX_RECORDER_FLUSH_S": "0.05",
        }
        cli(env, "migrate")
        key = account(env, "solo", {"concurrency": 1, "rpm": 1000, "tokens_per_day": 10**9})
        doomed, doomed_process = stack.enter_context(replica(env))
        survivor, _ = stack.enter_context(replica(env))
        # A stream that never ends on its own: one chunk, then the upstream stalls.
        httpx.post(
            f"{simulator_url}/_simulator/faults",
            json={"model": "gpt-4o-mini", "stall_after_chunks": 1, "count": 1},
        )
        first_chunk = threading.Event()

        def stream() -> None:
            try:
                with httpx.stream(
                    "POST",
                    f"{doomed}/v1/chat/completions",
                    json={
                        "model": "gpt-4o-mini",
                        "stream": True,
                        "messages": [{"role": "user", "content": "hi"}],
                    },
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=60,
                ) as response:
                    for _ in response.iter_lines():
                        first_chunk.set()
            except httpx.TransportError:
                pass  # its replica is killed under it

        reader = threading.Thread(target=stream, daemon=True)
        reader.start()
        assert first_chunk.wait(15)
        # Well past the lease, the running stream still holds its slot: the holder renews it.
        time.sleep(2 * LEASE_S)
        held = _chat(survivor, key)
        assert held.status_code == 429, held.text
        assert "Concurrency" in held.json()["error"]["message"]

        doomed_process.send_signal(signal.SIGKILL)
        doomed_process.wait(timeout=10)
        killed = time.monotonic()
        while (status := _chat(survivor, key).status_code) != 200:
            assert status == 429
            assert time.monotonic() - killed < LEASE_S + 2, "the dead replica's slot was kept"
            time.sleep(0.2)
        freed_after = time.monotonic() - killed
        print(f"slot freed {freed_after:.1f} s after kill -9")
        assert freed_after <= LEASE_S + 2
        reader.join(timeout=10)
