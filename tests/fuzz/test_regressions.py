"""The failures fuzzing found, pinned: each was a 500 (or worse) and is now a 400."""

from __future__ import annotations

import httpx
import pytest

from tests.fuzz.conftest import FuzzTarget


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("days", ["²", "9" * 5000])
def test_days_that_int_cannot_read_are_refused(fuzz_target: FuzzTarget, days: str) -> None:
    # "²" is a digit to str.isdigit() but not to int(); 5,000 digits exceed int()'s limit.
    for path, key in (
        ("/api/v1/usage", fuzz_target.key),
        ("/admin/usage", fuzz_target.admin_key),
    ):
        response = httpx.get(f"{fuzz_target.url}{path}", params={"days": days}, headers=_auth(key))
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["code"] == "validation_error"


def test_days_in_other_decimal_digits_are_read_as_their_number(fuzz_target: FuzzTarget) -> None:
    # "٣" (Arabic-Indic three) is a decimal digit int() reads as 3: served, never a 500.
    for path, key in (
        ("/api/v1/usage", fuzz_target.key),
        ("/admin/usage", fuzz_target.admin_key),
    ):
        response = httpx.get(f"{fuzz_target.url}{path}", params={"days": "٣"}, headers=_auth(key))
        assert response.status_code == 200, (path, response.text)
    usage = httpx.get(
        f"{fuzz_target.url}/api/v1/usage", params={"days": "٣"}, headers=_auth(fuzz_target.key)
    )
    assert usage.json()["data"]["days"] == 3


@pytest.mark.parametrize("cost", ["NaN", "sNaN", "Infinity", "-Infinity", "1e999999999"])
def test_limits_that_are_no_amount_are_refused(fuzz_target: FuzzTarget, cost: str) -> None:
    # "Infinity" used to be accepted — and then every start-up failed loading the key.
    response = httpx.post(
        f"{fuzz_target.url}/api/v1/account/keys",
        json={"limits": {"cost_per_day_usd": cost}},
        headers=_auth(fuzz_target.key),
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "validation_error"


def test_limit_field_names_are_not_echoed(fuzz_target: FuzzTarget) -> None:
    response = httpx.post(
        f"{fuzz_target.url}/api/v1/account/keys",
        json={"limits": {"please summarise my diary": 1}},
        headers=_auth(fuzz_target.key),
    )
    assert response.status_code == 400
    assert "diary" not in response.text


@pytest.mark.parametrize("plan", [{}, [], {"a": 1}])
def test_a_plan_that_is_not_a_string_is_refused(fuzz_target: FuzzTarget, plan: object) -> None:
    admin = _auth(fuzz_target.admin_key)
    created = httpx.post(
        f"{fuzz_target.url}/admin/accounts", json={"name": "p", "plan": plan}, headers=admin
    )
    changed = httpx.patch(
        f"{fuzz_target.url}/admin/accounts/{fuzz_target.target_account}",
        json={"plan": plan},
        headers=admin,
    )
    for response in (created, changed):
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("raw", ["²", "9" * 5000, "٣٠"])
def test_dashboard_form_numbers_never_fail_int(raw: str) -> None:
    from routeplex_gateway.dashboard.account_pages import key_form_body
    from routeplex_gateway.dashboard.charts import PERIODS, period
    from routeplex_gateway.dashboard.operator_pages import _update_body

    assert period(raw) in PERIODS
    key_form_body({"expires_in_days": raw})
    _update_body({"rpm": raw, "plan": "usage"})
