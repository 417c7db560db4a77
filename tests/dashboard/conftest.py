"""Dashboard test support: signing in over plain HTTP, operator keys, and a headless Chromium
driven by Playwright that records every request the pages make and every CSP violation."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from routeplex_gateway.auth import issue_admin_key
from routeplex_gateway.storage import Store
from tests.conftest import RunningGateway, gateway_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
# Runs in every page before its own scripts. A violation is reported on the console, which
# Playwright hears whatever page the browser has moved on to by then.
_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("CSP violation: " + event.violatedDirective + " " + event.blockedURI);
});
"""


def admin_key(gw: RunningGateway) -> str:
    async def create() -> str:
        store = await Store.open(gateway_settings(gw.data_dir).resolved_database_url)
        try:
            plaintext, _ = await issue_admin_key(store, name="dashboard-test")
            return plaintext
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, create()).result()


def sign_in(client: httpx.Client, key: str) -> httpx.Response:
    """Sign in as a browser would: fetch the form (and its cookie), post it back."""
    form = client.get("/app/signin")
    match = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert match, form.text
    return client.post("/app/signin", data={"csrf": match.group(1), "key": key})


def csrf_of(page_html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page_html)
    assert match
    return match.group(1)


@dataclass
class Watch:
    """What the pages of one browser context did: every URL requested, every violation."""

    requests: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def on_console(self, message: Any) -> None:
        if message.text.startswith("CSP violation"):
            self.violations.append(message.text)
        elif message.type == "error":
            self.errors.append(message.text)

    def assert_clean(self) -> None:
        assert self.requests, "no request was recorded"
        off_host = [u for u in self.requests if urlsplit(u).hostname != "127.0.0.1"]
        assert off_host == [], off_host
        assert self.violations == []


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium. Missing: skipped locally, a failure in CI."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def watched(browser: Any) -> Iterator[tuple[Any, Watch]]:
    """A fresh browser context (no cookies) whose requests and console are recorded."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.set_default_timeout(10_000)
    watch = Watch()
    context.add_init_script(_REPORT_VIOLATIONS)
    context.on("request", lambda request: watch.requests.append(request.url))
    context.on("console", watch.on_console)
    try:
        yield context, watch
    finally:
        context.close()


def screenshot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
