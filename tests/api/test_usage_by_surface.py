"""Usage split by surface: `by_surface` in `GET /api/v1/usage`, and `GET /admin/usage/surfaces`.

OpenAI chat, embeddings and native requests are made through the gateway; Anthropic Messages
usage is stored as the recorder stores it (its metadata rows are what the split counts).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import openai

from routeplex_gateway.api.account import SURFACE_NAMES
from routeplex_gateway.metering.pricing import picousd_to_usd
from routeplex_gateway.metering.record import Endpoint
from tests.api.test_admin_api import admin_key, auth
from tests.conftest import RunningGateway
from tests.support.metadata import store_records

PROMPT = [{"role": "user", "content": "hello"}]
ANTHROPIC_COST = 1_234_567  # picodollars
COUNTS = ("requests", "input_tokens", "output_tokens", "unknown_cost_requests", "refused_requests")


def _make_traffic(gateway: RunningGateway) -> None:
    """alice: one OpenAI request served and one refused, one embeddings request, one native,
    two Anthropic (one of them without a known price), one Responses; bob: one native."""
    key = gateway.keys["alice"]
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT, max_tokens=10)
    client.responses.create(model="gpt-4o-mini", input="hello", max_output_tokens=16)
    refused = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers=auth(key),
        json={"model": "no-such-model", "messages": PROMPT},
    )
    assert refused.status_code == 400
    client.embeddings.create(model="text-embedding-3-small", input="hello")
    for who in ("alice", "bob"):
        native = httpx.post(
            f"{gateway.url}/api/v1/chat",
            headers=auth(gateway.keys.get(who) or gateway.add_account(who)),
            json={"messages": PROMPT, "mode": "manual", "model": "gpt-4o-mini"},
            timeout=10,
        )
        assert native.status_code == 200
    gateway.metadata(expect=5)
    anthropic = {
        "created_at": datetime.now(UTC),
        "endpoint": Endpoint.ANTHROPIC_MESSAGES,
        "served_model": "claude-sonnet-4-20250514",
    }
    store_records(
        gateway.data_dir,
        "alice",
        {**anthropic, "input_tokens": 300, "output_tokens": 40, "cost_picousd": ANTHROPIC_COST},
        {**anthropic, "input_tokens": 10, "output_tokens": 2, "cost_picousd": None},
    )


def _dollars(value: float | None) -> Decimal:
    assert value is not None
    return Decimal(repr(value))


def test_every_endpoint_has_a_surface_name() -> None:
    assert set(SURFACE_NAMES) == set(Endpoint)


def test_usage_is_split_by_surface(gateway: RunningGateway) -> None:
    _make_traffic(gateway)
    data = httpx.get(f"{gateway.url}/api/v1/usage", headers=auth(gateway.keys["alice"])).json()[
        "data"
    ]

    surfaces = data["by_surface"]
    assert [(s["surface"], s["endpoint"]) for s in surfaces] == [
        ("OpenAI Chat Completions", "openai.chat_completions"),
        ("Native API", "native.chat"),
        ("Anthropic Messages", "anthropic.messages"),
        ("OpenAI Responses", "openai.responses"),
        ("OpenAI Embeddings", "openai.embeddings"),
    ]
    openai_chat, native, anthropic, responses, embeddings = surfaces
    assert (embeddings["requests"], embeddings["refused_requests"]) == (1, 0)
    assert embeddings["input_tokens"] > 0 and embeddings["output_tokens"] == 0
    assert embeddings["cost_usd"] > 0
    assert (openai_chat["requests"], openai_chat["refused_requests"]) == (2, 1)
    assert (responses["requests"], responses["refused_requests"]) == (1, 0)
    assert responses["cost_usd"] > 0 and responses["output_tokens"] > 0
    assert (native["requests"], native["refused_requests"]) == (1, 0)
    assert openai_chat["cost_usd"] > 0 and native["cost_usd"] > 0
    assert anthropic == {
        "surface": "Anthropic Messages",
        "endpoint": "anthropic.messages",
        "requests": 2,
        "input_tokens": 310,
        "output_tokens": 42,
        "total_tokens": 352,
        # The known price only; the other request is counted apart, not as free.
        "cost_usd": float(picousd_to_usd(ANTHROPIC_COST)),
        "unknown_cost_requests": 1,
        "refused_requests": 0,
    }
    # Today's metadata is all there is, so the split adds up to the totals, to the last digit.
    totals = data["totals"]
    for field in COUNTS:
        assert sum(s[field] for s in surfaces) == totals[field], field
    assert sum(_dollars(s["cost_usd"]) for s in surfaces) == _dollars(totals["cost_usd"])

    # An account that made no request: every surface, with nothing used.
    idle = gateway.add_account("mallory")
    theirs = httpx.get(f"{gateway.url}/api/v1/usage", headers=auth(idle)).json()["data"]
    assert [s["endpoint"] for s in theirs["by_surface"]] == [str(e) for e in SURFACE_NAMES]
    assert all(s[field] == 0 for s in theirs["by_surface"] for field in COUNTS)


def _admin_surfaces(gateway: RunningGateway, key: str, query: str) -> Any:
    response = httpx.get(f"{gateway.url}/admin/usage/surfaces{query}", headers=auth(key))
    return response.status_code, response.json()


def test_the_operator_sees_the_split_of_every_account_or_one(gateway: RunningGateway) -> None:
    _make_traffic(gateway)
    key = admin_key(gateway)

    status, body = _admin_surfaces(gateway, key, "?days=1")
    assert status == 200
    assert {s["endpoint"]: s["requests"] for s in body["data"]} == {
        "openai.chat_completions": 2,
        "native.chat": 2,
        "anthropic.messages": 2,
        "openai.responses": 1,
        "openai.embeddings": 1,
    }
    alice = httpx.get(f"{gateway.url}/admin/accounts", headers=auth(key)).json()["data"]
    alice_id = next(a["id"] for a in alice if a["name"] == "alice")
    _, body = _admin_surfaces(gateway, key, f"?account_id={alice_id}")
    assert {s["endpoint"]: s["requests"] for s in body["data"]}["native.chat"] == 1

    status, body = _admin_surfaces(gateway, key, "?days=0")
    assert status == 400 and body["error"]["code"] == "validation_error"
    assert body["error"]["details"]["param"] == "days"
    assert _admin_surfaces(gateway, gateway.keys["alice"], "")[0] == 401
