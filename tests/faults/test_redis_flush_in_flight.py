"""Redis loses the slots and reservations of requests still in flight — flushed, or restarted
without persistence — and they come back: the process holding them puts them back before it
admits anything after the loss, and every other process within one heartbeat (a third of
the lease). Until then, another replica may admit past a cap; the test measures how long."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from tests.conftest import RunningGateway
from tests.faults.conftest import gateway_on_redis, stream_held_open, today
from tests.support.accounts import set_account_limits
from tests.support.services import fresh_postgres_database, private_redis
from tests.test_replicas import account, cli, metadata_rows, replica

LEASE_S = 3
CAP = 20_000  # the held stream reserves ~16,400 of it: the model's whole output
LIMITS = {"concurrency": 1, "rpm": 1000, "tokens_per_day": CAP}
MESSAGES = [{"role": "user", "content": "hi"}]


def _chat(url: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "max_tokens": 20, "messages": MESSAGES},
        headers={"Authorization": f"Bearer {key}"},
        timeout=20,
    )


def _concurrency_refusal(response: httpx.Response) -> bool:
    return response.status_code == 429 and "Concurrency" in response.json()["error"]["message"]


def _until_settled(url: str, key: str) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while (now := today(url, key))["in_flight"] != 0:
        assert time.monotonic() < deadline, "a slot is still held"
        time.sleep(0.05)
    return now


def test_a_flush_does_not_free_the_slot_of_a_stream_in_flight(
    tmp_path: Path, simulator_url: str
) -> None:
    with (
        private_redis() as redis,
        gateway_on_redis(tmp_path, simulator_url, redis.port, concurrency_lease_s=LEASE_S) as (
            gw,
            _,
        ),
    ):
        key = gw.add_account("solo")
        set_account_limits(gw, "solo", LIMITS)
        reader = stream_held_open(simulator_url, gw.url, key)
        reserved = today(gw, key)["tokens"]
        assert reserved > CAP // 2
        redis.flushall()
        # The holder puts its ticket back before it admits anything: refused at once.
        second = _chat(gw.url, key)
        assert _concurrency_refusal(second), second.text
        # Its reservation is back too, once: seeded (nothing recorded yet) plus held.
        after = today(gw, key)
        assert (after["tokens"], after["in_flight"]) == (reserved, 1)

        httpx.delete(f"{simulator_url}/_simulator/faults")  # the stream ends normally
        reader.join(timeout=10)
        settled = _until_settled(gw.url, key)
        rows = _rows(gw, 2)
        assert len(rows) == 2  # the stream and the refusal, once each
        assert settled["tokens"] == sum(rows.values())  # its usage, not its reservation


def _rows(gw: RunningGateway, count: int) -> dict[str, int]:
    """Each request's recorded tokens, once `count` rows are written."""
    deadline = time.monotonic() + 10
    while len(rows := gw.rows("SELECT * FROM request_metadata")) < count:
        assert time.monotonic() < deadline, f"{len(rows)} rows of {count}"
        time.sleep(0.05)
    return {
        row["request_id"]: int((row["input_tokens"] or 0) + (row["output_tokens"] or 0))
        for row in rows
    }


def test_after_a_flush_another_replica_gives_the_slot_back_within_a_heartbeat(
    simulator_url: str,
) -> None:
    with ExitStack() as stack:
        redis = stack.enter_context(private_redis())
        database_url = stack.enter_context(fresh_postgres_database())
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ROUTEPLEX_")},
            "ROUTEPLEX_DATABASE_URL": database_url,
            "ROUTEPLEX_REDIS_URL": redis.url,
            "ROUTEPLEX_CONCURRENCY_LEASE_S": str(LEASE_S),
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": f"{simulator_url}/v1",
            "ROUTEPLEX_RECORDER_FLUSH_S": "0.05",
        }
        cli(env, "migrate")
        key = account(env, "solo", LIMITS)
        holder, _ = stack.enter_context(replica(env))
        other, _ = stack.enter_context(replica(env))
        # Whatever happens, the stream ends before its replica is asked to stop.
        stack.callback(httpx.delete, f"{simulator_url}/_simulator/faults")
        reader = stream_held_open(simulator_url, holder, key)
        reserved = today(other, key)["tokens"]
        requests = 1
        assert _concurrency_refusal(_chat(other, key))
        requests += 1

        redis.flushall()
        flushed = time.monotonic()
        # The other replica knows nothing of the stream: it seeds the day again and admits,
        # until the holder's heartbeat puts the stream's ticket back.
        served_tokens = 0
        while (response := _chat(other, key)).status_code == 200:
            requests += 1
            served_tokens += response.json()["usage"]["total_tokens"]
            assert time.monotonic() - flushed < LEASE_S / 3 + 1.5, "the slot never came back"
            time.sleep(0.05)
        window = time.monotonic() - flushed
        requests += 1
        assert _concurrency_refusal(response), response.text
        print(f"slot back {window:.2f} s after FLUSHALL (heartbeat every {LEASE_S / 3:.1f} s)")
        # The reservation is back once, beside what was served meanwhile.
        assert today(other, key)["tokens"] == reserved + served_tokens

        httpx.delete(f"{simulator_url}/_simulator/faults")
        reader.join(timeout=10)
        _until_settled(other, key)
        deadline = time.monotonic() + 10
        while metadata_rows(database_url, key) < requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert metadata_rows(database_url, key) == requests
