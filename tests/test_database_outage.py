"""The database goes away mid-load: requests keep being served, their metadata waits in the
bounded buffer, and once the database is back every served request has its record. When
the buffer is full, the gateway refuses new work rather than serve unbilled traffic."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx

from routeplex_gateway.app import create_app
from tests.conftest import gateway_settings
from tests.support.accounts import create_account_with_key
from tests.support.servers import serve_in_thread
from tests.support.services import fresh_postgres_database
from tests.support.tcp_proxy import tcp_proxy


def recorded_ids(database_url: str) -> list[str]:
    import asyncio

    async def fetch() -> list[str]:
        connection = await asyncpg.connect(database_url)
        try:
            return [r[0] for r in await connection.fetch("SELECT request_id FROM request_metadata")]
        finally:
            await connection.close()

    return asyncio.run(fetch())


def wait_until(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "requests must keep being served"
        time.sleep(0.05)


def ask(url: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        timeout=10,
        headers={"Authorization": f"Bearer {key}"},
        json={
            "model": "gpt-4o-mini",
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )


def test_no_metadata_is_lost_while_the_database_is_down(tmp_path: Path, simulator_url: str) -> None:
    with fresh_postgres_database() as database_url, tcp_proxy(5432) as proxy:
        via_proxy = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        settings = gateway_settings(tmp_path, database_url=via_proxy, single_instance=True)
        key = create_account_with_key(settings, "steady", plan="unlimited")
        served: list[str] = []
        stop = threading.Event()
        with serve_in_thread(create_app(settings, simulator_url=simulator_url)) as url:

            def load() -> None:
                while not stop.is_set():
                    response = ask(url, key)
                    if response.status_code == 200:
                        served.append(response.json()["x_routeplex"]["request_id"])

            workers = [threading.Thread(target=load) for _ in range(3)]
            for worker in workers:
                worker.start()
            # Bounded waits on what happened, not fixed sleeps: a loaded machine serves
            # fewer requests a second, but must still serve them through the outage.
            wait_until(lambda: len(served) >= 10)
            proxy.cut()
            before_cut, cut_at = len(served), time.monotonic()
            wait_until(lambda: len(served) - before_cut > 10 and time.monotonic() - cut_at > 2)
            proxy.restore()
            restored = len(served)
            wait_until(lambda: len(served) - restored >= 10)
            stop.set()
            for worker in workers:
                worker.join()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                ids = recorded_ids(database_url)
                if set(served) <= set(ids):
                    break
                time.sleep(0.2)
        ids = recorded_ids(database_url)
        assert set(served) <= set(ids)
        assert len(ids) == len(set(ids))  # each exactly once


def test_a_full_buffer_refuses_new_work(tmp_path: Path, simulator_url: str) -> None:
    with fresh_postgres_database() as database_url, tcp_proxy(5432) as proxy:
        via_proxy = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        settings = gateway_settings(
            tmp_path, database_url=via_proxy, single_instance=True, recorder_buffer_size=3
        )
        key = create_account_with_key(settings, "capped-buffer", plan="unlimited")
        with serve_in_thread(create_app(settings, simulator_url=simulator_url)) as url:
            assert ask(url, key).status_code == 200
            deadline = time.monotonic() + 5
            while not recorded_ids(database_url):  # the buffer starts empty
                assert time.monotonic() < deadline
                time.sleep(0.05)
            proxy.cut()
            statuses = [ask(url, key).status_code for _ in range(6)]
            assert statuses[:3] == [200, 200, 200]
            refused = ask(url, key)
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "provider_unavailable"
            assert 503 in statuses
            proxy.restore()
            deadline = time.monotonic() + 15
            while ask(url, key).status_code != 200:
                assert time.monotonic() < deadline, "the gateway did not recover"
                time.sleep(0.2)
