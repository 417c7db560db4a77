"""The Usage pages' "By surface" table (the account's and the operator's), over plain HTTP:
every surface named, its counts, its cost as exact money, and a note that the split covers
only the window request metadata is kept for."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import httpx

from routeplex_gateway.metering.money import picodollars
from routeplex_gateway.metering.record import Endpoint
from tests.conftest import RunningGateway
from tests.dashboard.conftest import admin_key, sign_in
from tests.support.metadata import store_records

NOW = datetime.now(UTC)


def _surface_rows(page: str) -> dict[str, list[str]]:
    """The table's cells by row's endpoint, as text."""
    table = re.search(r'<table id="by-surface">(.*?)</table>', page, re.S)
    assert table, "no By surface table"
    rows = re.findall(r'<tr data-endpoint="([^"]+)">(.*?)</tr>', table.group(1), re.S)
    return {
        endpoint: [
            html.unescape(re.sub(r"<[^>]+>", "", cell))
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", cells)
        ]
        for endpoint, cells in rows
    }


def _store_usage(gateway: RunningGateway) -> None:
    store_records(
        gateway.data_dir,
        "alice",
        {"created_at": NOW, "cost_picousd": 27_000_000},
        {"created_at": NOW, "endpoint": Endpoint.ANTHROPIC_MESSAGES, "cost_picousd": 1_234_567_890},
        {"created_at": NOW, "endpoint": Endpoint.ANTHROPIC_MESSAGES, "cost_picousd": None},
        {"created_at": NOW, "endpoint": Endpoint.OPENAI_RESPONSES, "cost_picousd": 5_000_000},
        # 64 tokens of text-embedding-3-small at $0.02 a million: no output.
        {
            "created_at": NOW,
            "endpoint": Endpoint.OPENAI_EMBEDDINGS,
            "served_model": "text-embedding-3-small",
            "input_tokens": 64,
            "output_tokens": 0,
            "cost_picousd": 1_280_000,
        },
        # Before the 7 days shown: not in the table.
        {"created_at": NOW - timedelta(days=8), "endpoint": Endpoint.NATIVE_CHAT},
    )
    gateway.add_account("bob")
    store_records(gateway.data_dir, "bob", {"created_at": NOW, "endpoint": Endpoint.NATIVE_CHAT})


def test_the_account_usage_page_shows_usage_by_surface(gateway: RunningGateway) -> None:
    _store_usage(gateway)
    with httpx.Client(base_url=gateway.url, timeout=10) as browser:
        assert sign_in(browser, gateway.keys["alice"]).status_code == 303
        page = browser.get("/app/usage?days=7").text
        longest = browser.get("/app/usage?days=90").text

    cells = _surface_rows(page)
    # Surface, endpoint, requests, refused, input, output, cost, requests without a price.
    assert cells == {
        "openai.chat_completions": [
            "OpenAI Chat Completions",
            "openai.chat_completions",
            "1",
            "0",
            "100",
            "20",
            picodollars(27_000_000),
            "0",
        ],
        "native.chat": ["Native API", "native.chat", "0", "0", "0", "0", "$0.00", "0"],
        "anthropic.messages": [
            "Anthropic Messages",
            "anthropic.messages",
            "2",
            "0",
            "200",
            "40",
            "$0.0012",  # exact money: 0.00123456789 to two significant digits
            "1",
        ],
        "openai.responses": [
            "OpenAI Responses",
            "openai.responses",
            "1",
            "0",
            "100",
            "20",
            picodollars(5_000_000),
            "0",
        ],
        "openai.embeddings": [
            "OpenAI Embeddings",
            "openai.embeddings",
            "1",
            "0",
            "64",
            "0",
            picodollars(1_280_000),
            "0",
        ],
    }
    assert picodollars(1_234_567_890) == "$0.0012"
    note = re.search(r'id="surface-window">([^<]*)<', page)
    assert note and "kept 90 days" in note.group(1) and "not the whole period" not in note.group(1)
    assert _surface_rows(longest)["native.chat"][2] == "1"


def test_the_operator_usage_page_shows_every_account_by_surface(gateway: RunningGateway) -> None:
    _store_usage(gateway)
    with httpx.Client(base_url=gateway.url, timeout=10) as browser:
        assert sign_in(browser, admin_key(gateway)).status_code == 303
        page = browser.get("/app/operator/usage").text

    requests = {endpoint: cells[2] for endpoint, cells in _surface_rows(page).items()}
    assert requests == {
        "openai.chat_completions": "1",
        "native.chat": "1",
        "anthropic.messages": "2",
        "openai.responses": "1",
        "openai.embeddings": "1",
    }
    assert 'id="surface-window"' in page
