"""The dashboard in a real browser (headless Chromium, Playwright): an account holder sees
the usage they really made, manages keys that then work and stop working against the API,
signs out; an operator creates an account and changes its plan. Throughout, no request
leaves 127.0.0.1 and the Content-Security-Policy refuses nothing."""

from __future__ import annotations

import csv
import time
from typing import Any

import httpx
import openai
import pytest

from routeplex_gateway.metering.money import picodollars
from routeplex_gateway.metering.record import METADATA_FIELDS
from tests.conftest import RunningGateway
from tests.dashboard.conftest import Watch, admin_key, screenshot

PROMPT = [{"role": "user", "content": "canary: a dashboard test prompt"}]
# Chart.js keeps each chart's data on its instance; read it back as the page drew it.
CHART_DATA = """() => Object.fromEntries(
  Array.from(document.querySelectorAll("canvas")).map((canvas) => {
    const data = Chart.getChart(canvas).data;
    const datasets = data.datasets.map((d) => ({label: d.label, data: d.data}));
    return [canvas.id, {labels: data.labels, datasets: datasets}];
  }))"""
# How wide a table is against the box that holds it (the box scrolls what does not fit).
FIT = """(selector) => {
  const table = document.querySelector(selector);
  return {table: table.scrollWidth, wrap: table.parentElement.clientWidth};
}"""
PAGE_OVERFLOW = "() => document.documentElement.scrollWidth - innerWidth"
INLINE_SCRIPT = """() => document.body.append(
  Object.assign(document.createElement("script"), {textContent: "1"}))"""


def _client(gateway: RunningGateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)


def _sum(chart: dict[str, Any], label: str | None = None) -> float:
    return sum(sum(d["data"]) for d in chart["datasets"] if label in (None, d["label"]))


def _refused_soon(gateway: RunningGateway, key: str) -> None:
    """The key is refused (401) within a key-cache refresh (0.5 s in tests). A revocation
    through this process applies at once, unless a refresh that read the key just before is
    landing at that moment; the next refresh settles it either way."""
    deadline = time.monotonic() + 3
    while True:
        try:
            _client(gateway, key).chat.completions.create(
                model="gpt-4o-mini", messages=PROMPT, max_tokens=5
            )
        except openai.AuthenticationError as refused:
            assert refused.status_code == 401
            return
        assert time.monotonic() < deadline, "the key still works"
        time.sleep(0.1)


def _sign_in(page: Any, gateway: RunningGateway, key: str) -> None:
    page.goto(f"{gateway.url}/app/")
    assert page.url.endswith("/app/signin"), "signed out: the dashboard asks for a key"
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_account_holder_sees_real_usage_and_manages_keys(
    gateway: RunningGateway, watched: tuple[Any, Watch]
) -> None:
    context, watch = watched
    key = gateway.keys["alice"]
    client = _client(gateway, key)
    for model in ("gpt-4o-mini", "gpt-4o-mini", "gpt-4o"):
        client.chat.completions.create(model=model, messages=PROMPT, max_tokens=40)
    gateway.metadata(expect=3)
    api = httpx.get(
        f"{gateway.url}/api/v1/usage?days=7", headers={"Authorization": f"Bearer {key}"}
    ).json()["data"]
    assert api["totals"]["requests"] == 3

    page = context.new_page()
    _sign_in(page, gateway, key)
    page.wait_for_url("**/app/")
    assert page.locator('[data-stat="requests"]').get_attribute("data-value") == "3"
    assert page.locator('[data-stat="tokens"]').get_attribute("data-value") == str(
        api["totals"]["input_tokens"] + api["totals"]["output_tokens"]
    )
    # Money as money: the usage plan's daily cap is $1.67, not $1.670000.
    assert "of $1.67 a day" in page.locator('section[aria-labelledby="card-cost"]').inner_text()
    screenshot(page, "overview")

    # The detector is live: an inline script is refused, and the refusal is heard.
    page.evaluate(INLINE_SCRIPT)
    page.wait_for_timeout(100)
    assert len(watch.violations) == 1 and "script-src" in watch.violations[0]
    watch.violations.clear()

    page.get_by_role("link", name="Usage", exact=True).click()
    page.wait_for_url("**/app/usage")
    charts = page.evaluate(CHART_DATA)
    requests, tokens, cost = charts["chart-requests"], charts["chart-tokens"], charts["chart-cost"]
    assert len(requests["labels"]) == 7 and requests["labels"][-1] == api["usage"][0]["day"]
    assert {d["label"] for d in requests["datasets"]} == {"gpt-4o-mini", "gpt-4o"}
    assert _sum(requests) == api["totals"]["requests"]
    assert _sum(tokens, "Input") == api["totals"]["input_tokens"] > 0
    assert _sum(tokens, "Output") == api["totals"]["output_tokens"] > 0
    assert _sum(cost) == pytest.approx(api["totals"]["cost_usd"], rel=1e-9)
    totals = {
        name: page.locator(f'[data-total="{name}"]').get_attribute("data-value")
        for name in ("requests", "input_tokens", "output_tokens", "cost_usd", "refused_requests")
    }
    assert totals == {name: str(api["totals"][name]) for name in totals}
    assert page.locator("#unknown-price").count() == 0  # every request served had a price
    assert page.locator("#h-requests ~ .table-wrap tbody tr").count() == len(api["usage"])
    screenshot(page, "usage")
    page.get_by_role("link", name="30 days").click()
    page.wait_for_url("**/app/usage?days=30")
    assert len(page.evaluate(CHART_DATA)["chart-requests"]["labels"]) == 30

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    with open(download.value.path(), newline="") as fh:
        exported = list(csv.DictReader(fh))
    assert sum(int(r["requests"]) for r in exported) == api["totals"]["requests"]

    page.get_by_role("link", name="Models", exact=True).click()
    row = page.locator('tr[data-model="gpt-4o-mini"]')
    # Prices exactly, as money: $0.15 per million tokens is $0.00015 per 1K.
    assert "$0.00015\t" in row.inner_text() and "healthy" in row.inner_text()
    screenshot(page, "models")

    page.get_by_role("link", name="Privacy", exact=True).click()
    # One tbody per record; every stored column once in each, under its own heading.
    records = page.locator("#records tbody")
    assert records.count() == 3
    columns = records.first.locator("td[data-column]")
    shown = columns.evaluate_all("(cells) => cells.map((c) => c.dataset.column)")
    assert sorted(shown) == sorted(METADATA_FIELDS)
    assert columns.evaluate_all(
        "(cells) => cells.every((c) => document.getElementById(c.headers).textContent"
        " === c.dataset.column)"
    )
    assert "canary" not in page.content() and "request_id" in page.content()
    # Every column fits a 1280-pixel window: nothing is cut off or scrolled out of sight.
    assert page.viewport_size["width"] == 1280
    for table in ("#stored", "#records"):
        fit = page.evaluate(FIT, table)
        assert fit["table"] <= fit["wrap"], f"{table} is wider than its box: {fit}"
    assert page.evaluate(PAGE_OVERFLOW) <= 0, "the privacy page scrolls sideways"
    # Money as money ($0.00032), with the stored integer of pico-dollars beside it.
    cost = records.first.locator("[data-column=cost_picousd] data")
    stored = int(cost.get_attribute("value"))
    assert stored > 0 and cost.inner_text() == picodollars(stored)
    screenshot(page, "privacy")

    # A key made in the dashboard works against the API, then stops working when revoked.
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("link", name="Keys", exact=True).click()
    page.get_by_label("Name").fill("from-the-browser")
    page.get_by_role("button", name="Create key").click()
    new_key = page.locator("#new-key").inner_text().strip()
    assert new_key.startswith("rp_live_")
    page.get_by_role("button", name="Copy").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == new_key
    screenshot(page, "keys-created")
    reply = _client(gateway, new_key).chat.completions.create(
        model="gpt-4o-mini", messages=PROMPT, max_tokens=10
    )
    assert reply.choices[0].message.content
    page.goto(f"{gateway.url}/app/keys")  # shown once: the keys page never shows it again
    assert page.locator("#new-key").count() == 0 and new_key not in page.content()
    page.locator("tr", has_text="from-the-browser").get_by_role("link", name="Revoke").click()
    screenshot(page, "keys-revoke")
    page.get_by_role("button", name="Revoke key").click()
    page.wait_for_url("**/app/keys?revoked=*")
    assert "revoked" in page.locator("tr", has_text="from-the-browser").inner_text()
    _refused_soon(gateway, new_key)
    screenshot(page, "keys")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/app/signin?signed_out=1")
    assert [c for c in context.cookies() if c["name"] == "routeplex_session"] == []
    for path in ("/app/", "/app/usage", "/app/keys"):
        page.goto(f"{gateway.url}{path}")
        assert page.url.endswith("/app/signin"), path
    watch.assert_clean()


def test_phone_width_and_keyboard_only(gateway: RunningGateway, watched: tuple[Any, Watch]) -> None:
    context, watch = watched
    _client(gateway, gateway.keys["alice"]).chat.completions.create(
        model="gpt-4o-mini", messages=PROMPT, max_tokens=20
    )
    gateway.metadata(expect=1)
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{gateway.url}/app/signin")
    # The key field has focus; typing and Enter sign in, no pointer needed. Chromium
    # applies autofocus at its next rendering step, which can come after "load" on a
    # busy machine, so wait for the focus rather than type into nothing.
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'key'")
    page.keyboard.type(gateway.keys["alice"])
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/")
    for path, name in (("/app/", "overview-phone"), ("/app/usage", "usage-phone")):
        page.goto(f"{gateway.url}{path}")
        overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways at phone width"
        screenshot(page, name)
    page.goto(f"{gateway.url}/app/keys")
    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll("input:not([type=hidden]), select"))
              .filter((e) => e.labels.length === 0).map((e) => e.name)"""
    )
    assert unlabelled == []
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    watch.assert_clean()


def test_a_cookie_copied_before_signing_out_is_refused_after(
    gateway: RunningGateway, watched: tuple[Any, Watch]
) -> None:
    """Signing out ends the session, not only the browser's copy of its cookie: replayed
    from elsewhere, the cookie the browser held is sent to sign in again, for either role."""
    context, watch = watched
    for key, home in (
        (gateway.keys["alice"], "/app/"),
        (admin_key(gateway), "/app/operator/accounts"),
    ):
        page = context.new_page()
        _sign_in(page, gateway, key)
        page.wait_for_url(f"**{home}*")
        (cookie,) = [c for c in context.cookies() if c["name"] == "routeplex_session"]
        copied = {"routeplex_session": cookie["value"]}
        assert httpx.get(f"{gateway.url}{home}", cookies=copied).status_code == 200

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/app/signin?signed_out=1")
        for path in (home, "/app/models"):
            replay = httpx.get(f"{gateway.url}{path}", cookies=copied)
            assert replay.status_code == 303, (path, replay.status_code)
            assert replay.headers["location"].startswith("/app/signin"), path
        page.close()
    watch.assert_clean()


def test_operator_creates_an_account_and_changes_its_plan(
    gateway: RunningGateway, watched: tuple[Any, Watch]
) -> None:
    context, watch = watched
    admin = admin_key(gateway)
    _client(gateway, gateway.keys["alice"]).chat.completions.create(
        model="gpt-4o-mini", messages=PROMPT, max_tokens=20
    )
    gateway.metadata(expect=1)
    page = context.new_page()
    _sign_in(page, gateway, admin)
    page.wait_for_url("**/app/operator/accounts")
    assert page.locator('tr[data-account="alice"]').count() == 1

    page.get_by_label("Name").fill("acme")
    page.get_by_label("Plan").select_option("evaluation")
    page.get_by_label("Email").fill("ops@acme.test")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/app/operator/accounts/*?created=1")
    account_id = page.url.split("/")[-1].split("?")[0]
    page.get_by_label("Plan").select_option("usage")
    page.get_by_label("Requests per minute").fill("60")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url("**?saved=1")
    assert page.locator('[data-field="plan"]').inner_text() == "usage"

    admin_api = httpx.get(
        f"{gateway.url}/admin/accounts/{account_id}", headers={"Authorization": f"Bearer {admin}"}
    ).json()["data"]
    assert admin_api["plan"] == "usage" and admin_api["limits"]["rpm"] == 60
    assert admin_api["limit_overrides"] == {"rpm": 60} and admin_api["email"] == "ops@acme.test"

    page.get_by_label("Name").fill("acme-prod")
    page.get_by_role("button", name="Create key").click()
    acme_key = page.locator("#new-key").inner_text().strip()
    _client(gateway, acme_key).chat.completions.create(
        model="gpt-4o-mini", messages=PROMPT, max_tokens=10
    )
    screenshot(page, "operator-account")

    page.get_by_label("Disabled").check()
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url("**?saved=1")
    _refused_soon(gateway, acme_key)  # its keys: on the key cache's next refresh

    page.get_by_role("link", name="Accounts", exact=True).click()
    assert "disabled" in page.locator('tr[data-account="acme"]').inner_text()
    screenshot(page, "operator-accounts")
    # Every request made so far (acme's may include some the disabling had not reached yet)
    # has been written: the batched writer flushes every 50 ms in tests.
    recorded = len(gateway.metadata(expect=2))
    time.sleep(0.3)
    assert len(gateway.metadata(expect=recorded)) == recorded
    usage = httpx.get(
        f"{gateway.url}/admin/usage?days=7", headers={"Authorization": f"Bearer {admin}"}
    ).json()["data"]
    page.get_by_role("link", name="Usage", exact=True).click()
    page.wait_for_url("**/app/operator/usage")
    charts = page.evaluate(CHART_DATA)
    assert {d["label"] for d in charts["chart-requests"]["datasets"]} == {"alice", "acme"}
    assert _sum(charts["chart-requests"]) == sum(r["requests"] for r in usage) == recorded
    assert _sum(charts["chart-cost"]) == pytest.approx(sum(r["cost_usd"] for r in usage))
    screenshot(page, "operator-usage")
    page.get_by_role("link", name="Health", exact=True).click()
    report = httpx.get(
        f"{gateway.url}/admin/health", headers={"Authorization": f"Bearer {admin}"}
    ).json()["data"]
    assert page.locator("#health tbody tr").count() == len(report)
    screenshot(page, "operator-health")
    page.goto(f"{gateway.url}/app/usage")  # an account holder's page: back to the operator's
    assert page.url.endswith("/app/operator/accounts")
    watch.assert_clean()
