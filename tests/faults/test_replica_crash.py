"""A replica killed mid-stream (kill -9: no cleanup of any kind) frees what its request held
within seconds — its concurrency slot and its reservation against the daily cap: the holder
renews its Redis leases while the request runs, so the lease can be short, and both lapse
soon after the holder dies. The dead request leaves no row, and what it consumed upstream
before dying is not charged (at most its reservation)."""

from __future__ import annotations

import os
import signal
import time
from contextlib import ExitStack

import httpx

from tests.faults.conftest import stream_held_open, today
from tests.support.services import fresh_postgres_database, require_redis
from tests.test_replicas import account, cli, metadata_rows, replica

LEASE_S = 3
CAP = 20_000  # the stream reserves the model's whole output: ~16,400 of it


MESSAGES = [{"role": "user", "content": "hi"}]


def _chat(url: str, key: str, max_tokens: int = 20, **body: object) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "max_tokens": max_tokens, "messages": MESSAGES, **body},
        headers={"Authorization": f"Bearer {key}"},
        timeout=20,
    )


def test_a_killed_replica_frees_its_slot_and_reservation_within_the_lease(
    simulator_url: str,
) -> None:
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
        key = account(env, "solo", {"concurrency": 1, "rpm": 1000, "tokens_per_day": CAP})
        doomed, doomed_process = stack.enter_context(replica(env))
        survivor, _ = stack.enter_context(replica(env))
        reader = stream_held_open(simulator_url, doomed, key)
        reserved = today(survivor, key)["tokens"]
        assert reserved > CAP // 2
        # Well past the lease, the running stream still holds its slot: the holder renews it.
        time.sleep(2 * LEASE_S)
        held = _chat(survivor, key)
        assert held.status_code == 429, held.text
        assert "Concurrency" in held.json()["error"]["message"]
        assert today(survivor, key)["tokens"] == reserved
        survivor_requests, used = 1, 0

        doomed_process.send_signal(signal.SIGKILL)
        doomed_process.wait(timeout=10)
        killed = time.monotonic()
        while (response := _chat(survivor, key)).status_code != 200:
            survivor_requests += 1
            assert response.status_code == 429
            assert time.monotonic() - killed < LEASE_S + 2, "the dead replica's slot was kept"
            time.sleep(0.2)
        survivor_requests += 1
        used += response.json()["usage"]["total_tokens"]
        freed_after = time.monotonic() - killed
        print(f"slot freed {freed_after:.1f} s after kill -9")
        assert freed_after <= LEASE_S + 2
        reader.join(timeout=10)

        # The dead reservation lapsed with the slot: today counts only what was served…
        assert today(survivor, key)["tokens"] == used
        # …and the account can use its cap: this fits only without the dead reservation.
        whole = _chat(survivor, key, max_tokens=CAP - reserved + 1000, stream=False)
        survivor_requests += 1
        assert whole.status_code == 200, whole.text
        used += whole.json()["usage"]["total_tokens"]
        # The same request, answered in full, is the most the dead one could have consumed
        # upstream uncharged.
        same = _chat(survivor, key, max_tokens=16_384)
        survivor_requests += 1
        assert same.status_code == 200, same.text
        used += (answer := same.json()["usage"]["total_tokens"])
        print(f"dead request: reserved {reserved} tokens, uncharged at most {answer}")
        assert answer <= reserved

        # Every request the survivor took has its row, once; the dead one has none.
        deadline = time.monotonic() + 10
        while metadata_rows(database_url, key) < survivor_requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert metadata_rows(database_url, key) == survivor_requests
        final = today(survivor, key)
        assert (final["tokens"], final["in_flight"]) == (used, 0)
