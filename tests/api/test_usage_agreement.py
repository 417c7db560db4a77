"""Usage is honest and the same everywhere: a request the gateway refused before calling any
provider (400, 415, 429) is counted as refused — never as "used a model without a known
price" — by `GET /api/v1/usage`, the dashboard's Usage and Overview pages, its CSV export and
`routeplex usage` (table and --json, by day and by surface) alike. A 401 has no account to be
counted against."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import openai

from routeplex_gateway.storage import Store
from tests.conftest import RunningGateway, gateway_settings
from tests.dashboard.conftest import sign_in
from tests.storage.builders import metadata_record
from tests.test_cli import run

PROMPT = [{"role": "user", "content": "hello"}]
COUNTS = ("requests", "input_tokens", "output_tokens", "unknown_cost_requests", "refused_requests")


def _post(gateway: RunningGateway, key: str, content_type: str = "", **kwargs: Any) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    if content_type:
        headers["Content-Type"] = content_type
    return httpx.post(
        f"{gateway.url}/v1/chat/completions", headers=headers, timeout=10, **kwargs
    ).status_code


def _make_traffic(gateway: RunningGateway) -> None:
    key = gateway.keys["alice"]
    capped = gateway.add_account("alice", limits={"rpm": 1})  # a second key of alice's
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)
    client.chat.completions.create(model="gpt-4o", messages=PROMPT, max_tokens=10)
    assert _post(gateway, capped, json={"model": "gpt-4o-mini", "messages": PROMPT}) == 200
    # Refused before any provider call: over the key's rpm, an unknown model, not JSON.
    assert _post(gateway, capped, json={"model": "gpt-4o-mini", "messages": PROMPT}) == 429
    assert _post(gateway, key, json={"model": "no-such-model", "messages": PROMPT}) == 400
    assert _post(gateway, key, "text/plain", content=b"hello") == 415
    # No account to count it against: not in anyone's usage.
    assert (
        _post(gateway, "rp_live_" + "x" * 43, json={"model": "gpt-4o", "messages": PROMPT}) == 401
    )
    gateway.metadata(expect=5)


def _dashboard(gateway: RunningGateway, key: str) -> tuple[str, str, list[dict[str, str]]]:
    """The Overview and Usage pages, and the CSV export, as the account holder sees them."""
    with httpx.Client(base_url=gateway.url, timeout=10) as browser:
        assert sign_in(browser, key).status_code == 303
        overview = browser.get("/app/").text
        usage = browser.get("/app/usage").text
        exported = list(csv.DictReader(io.StringIO(browser.get("/app/usage.csv").text)))
    return overview, usage, exported


def test_refused_requests_are_counted_apart_on_every_surface(gateway: RunningGateway) -> None:
    key = gateway.keys["alice"]
    _make_traffic(gateway)

    api = httpx.get(
        f"{gateway.url}/api/v1/usage?days=7", headers={"Authorization": f"Bearer {key}"}
    ).json()["data"]
    totals = api["totals"]
    assert (totals["requests"], totals["refused_requests"]) == (5, 3)
    assert totals["unknown_cost_requests"] == 0, "a refusal is not an unknown price"
    rows = {row["model"]: row for row in api["usage"]}
    assert {m: (r["requests"], r["refused_requests"]) for m, r in rows.items()} == {
        "gpt-4o": (1, 0),
        "gpt-4o-mini": (2, 1),  # the 429 is counted under the model it asked for
        "(unknown)": (2, 2),  # no catalog model named: the unknown model and the non-JSON body
    }

    overview, usage, exported = _dashboard(gateway, key)
    assert 'id="unknown-price"' not in usage
    assert 'data-total="refused_requests" data-value="3"' in usage
    assert 'data-total="requests" data-value="5"' in usage
    assert "3 refused before reaching a model" in overview
    assert [{f: int(r[f]) for f in COUNTS} for r in exported] == [
        {f: r[f] for f in COUNTS} for r in api["usage"]
    ]

    cli = run(["usage", "--account", "alice", "--json"], gateway.data_dir)
    assert cli.returncode == 0, cli.stderr
    assert [{f: r[f] for f in ("model", *COUNTS)} for r in json.loads(cli.stdout)] == [
        {f: r[f] for f in ("model", *COUNTS)} for r in api["usage"]
    ]
    assert {r["account"] for r in json.loads(cli.stdout)} == {"alice"}
    by_surface = run(["usage", "--by", "surface", "--account", "alice", "--json"], gateway.data_dir)
    assert by_surface.returncode == 0, by_surface.stderr
    fields = ("surface", "endpoint", *COUNTS)
    assert [{f: r[f] for f in fields} for r in json.loads(by_surface.stdout)] == [
        {f: r[f] for f in fields} for r in api["by_surface"]
    ]
    table = run(["usage"], gateway.data_dir).stdout
    assert "refused" in table and "alice" in table
    assert not re.search(r"acc_[0-9a-f]{16}", table), "the table names accounts, not ids"


def _store_served_without_price(gateway: RunningGateway, account_name: str) -> None:
    async def insert() -> None:
        store = await Store.open(gateway_settings(gateway.data_dir).resolved_database_url)
        try:
            account = await store.get_account_by_name(account_name)
            assert account is not None
            await store.insert_metadata(
                [
                    metadata_record(
                        account_id=account.id, created_at=datetime.now(UTC), cost_picousd=None
                    )
                ]
            )
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, insert()).result()


def test_the_unknown_price_banner_is_for_served_requests_only(gateway: RunningGateway) -> None:
    key = gateway.keys["alice"]
    assert _post(gateway, key, json={"model": "no-such-model", "messages": PROMPT}) == 400
    gateway.metadata(expect=1)
    _, usage, _ = _dashboard(gateway, key)
    assert 'id="unknown-price"' not in usage

    # A model answered and its price is not known: now the banner says so.
    _store_served_without_price(gateway, "alice")
    _, usage, exported = _dashboard(gateway, key)
    assert re.search(r'id="unknown-price">1 request\(s\) used a model without a known price', usage)
    assert sum(int(r["unknown_cost_requests"]) for r in exported) == 1
    assert sum(int(r["refused_requests"]) for r in exported) == 1
