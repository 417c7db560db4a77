"""The Privacy page's account of where prompts go, in a real browser (headless Chromium,
Playwright): an account holder whose account requires no training, signed in with a key that
also requires the `global` region, sees both requirements, which models meet the account's
(the very ones `GET /v1/models` lists for it) and which do not and why, and the downstream
policy of the requests they really made — one served, one refused for the policy. Every
table fits a 1280-pixel window; no request leaves 127.0.0.1; the CSP refuses nothing."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import RunningGateway, gateway_settings
from tests.dashboard.conftest import Watch, screenshot
from tests.dashboard.test_browser import FIT, PAGE_OVERFLOW, PROMPT, _sign_in
from tests.support.accounts import create_account_with_key
from tests.support.policies import require_of_account


def _listed(gateway: RunningGateway, key: str) -> list[str]:
    response = httpx.get(f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {key}"})
    return [m["id"] for m in response.json()["data"]]


def _applied(gateway: RunningGateway, key: str, refused: str) -> None:
    """The account's new requirement reached the key cache (0.5 s refreshes in tests)."""
    deadline = time.monotonic() + 5
    while refused in _listed(gateway, key):
        assert time.monotonic() < deadline, "the requirement never applied"
        time.sleep(0.1)


def _chat(gateway: RunningGateway, key: str, model: str) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)
    client.chat.completions.create(model=model, messages=PROMPT, max_tokens=20)


def test_account_holder_sees_where_their_prompts_go(
    gateway: RunningGateway, watched: tuple[Any, Watch]
) -> None:
    context, watch = watched
    settings = gateway_settings(gateway.data_dir)
    require_of_account(settings, "alice", "no-training")
    key = gateway.keys["alice"]
    global_key = create_account_with_key(settings, "alice", data_policy="region=global")
    _applied(gateway, key, "gemini-2.0-flash")  # Google's training is unknown: not listed
    _chat(gateway, key, "gpt-4o-mini")
    with pytest.raises(openai.PermissionDeniedError):
        _chat(gateway, key, "gemini-2.0-flash")
    _chat(gateway, global_key, "claude-haiku-4-5")
    stored = {r["request_id"]: r for r in gateway.metadata(expect=3)}
    assert len(stored) == 3

    page = context.new_page()
    _sign_in(page, gateway, global_key)
    page.wait_for_url("**/app/")
    page.get_by_role("link", name="Privacy", exact=True).click()
    page.wait_for_url("**/app/privacy")

    requirement = page.locator("#requirement")
    assert requirement.locator('[data-requirement="account"]').inner_text() == "no-training"
    assert requirement.locator('[data-requirement="key"]').inner_text() == "region=global"
    combined = requirement.locator('[data-requirement="combined"]').inner_text()
    assert combined == "no-training, region=global"

    # The models that meet the account's requirement are the ones its listing shows.
    rows = page.locator("#policy-models tbody tr")
    meeting = rows.evaluate_all(
        "(rows) => rows.filter((r) => r.dataset.meets === 'yes').map((r) => r.dataset.model)"
    )
    failing = rows.evaluate_all(
        "(rows) => rows.filter((r) => r.dataset.meets === 'no').map((r) => r.dataset.model)"
    )
    assert sorted(meeting) == sorted(set(_listed(gateway, key)) - {"routeplex-ai"})
    assert "gemini-2.0-flash" in failing and "gpt-4o-mini" in meeting
    google = page.locator('#policy-models tr[data-model="gemini-2.0-flash"]')
    assert google.locator("[data-unmet]").inner_text() == "no-training"
    assert "google: retention-days=55, training=unknown, region=global" in google.inner_text()
    summary = page.locator("#policy-summary").inner_text()
    assert f"{len(meeting)} of {len(meeting) + len(failing)} models" in summary

    # Every request's downstream policy, exactly as its metadata row holds it.
    requests = page.locator("#policy-requests tbody tr")
    assert requests.count() == 3
    for index in range(3):
        row = requests.nth(index)
        record = stored[row.get_attribute("data-request")]
        cell = {
            f: row.locator(f'[data-field="{f}"]').inner_text()
            for f in ("required", "met", "served")
        }
        assert cell["required"] == record["data_policy_required"]
        assert cell["served"] == (record["data_policy_served"] or "—")
        assert cell["met"] == ("yes" if record["data_policy_met"] else "no: refused")
    refused = [r for r in stored.values() if r["http_status"] == 403]
    assert len(refused) == 1 and refused[0]["data_policy_met"] == 0
    claude = next(r for r in stored.values() if r["served_model"] == "claude-haiku-4-5")
    assert claude["data_policy_required"] == "no-training, region=global"
    assert claude["data_policy_served"] == "retention-days=30, training=no, region=global"
    assert "canary" not in page.content()

    assert page.viewport_size["width"] == 1280
    for table in ("#policy-models", "#policy-requests", "#records"):
        fit = page.evaluate(FIT, table)
        assert fit["table"] <= fit["wrap"], f"{table} is wider than its box: {fit}"
    assert page.evaluate(PAGE_OVERFLOW) <= 0, "the privacy page scrolls sideways"
    screenshot(page, "privacy-data-policy")
    watch.assert_clean()
