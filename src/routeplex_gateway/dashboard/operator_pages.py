"""An operator's pages: accounts (create, change plan, limits or data-policy requirement,
disable, give a key), usage across accounts (by account, model and surface), and the health
of every provider deployment.

The forms feed the operator JSON API's own validation (`_changes`, `key_options`), so a
change made here is held to exactly the rules of `PATCH /admin/accounts/{id}`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.responses import RedirectResponse, Response

from ..api.account import key_options, key_view, surfaces
from ..api.admin import _changes, account_view, limits_view
from ..auth import issue_key
from ..errors import GatewayError
from ..limits.quota import utc_today
from ..storage import AccountExists, InvalidAccountName, UsageRow
from . import charts
from .access import Visit
from .account_pages import key_form_body, requirement_form_body, requirement_form_values

LIMIT_FIELDS = ("tokens_per_day", "cost_per_day_usd", "rpm", "concurrency")


async def accounts(visit: Visit, *, error: str | None = None) -> Response:
    gw = visit.gw
    today = utc_today()
    views = []
    for account in await gw.store.list_accounts():
        tokens, cost = await gw.quota.used_today(f"account:{account.id}", today)
        views.append({**account_view(gw, account), "tokens_today": tokens, "cost_today": cost})
    return visit.render(
        "operator_accounts.html",
        400 if error else 200,
        accounts=views,
        plans=gw.plans.names(),
        error=error,
        form=visit.form,
    )


async def create_account(visit: Visit) -> Response:
    gw, form = visit.gw, visit.form
    name = form.get("name", "").strip()
    body = {"plan": form.get("plan", "evaluation"), "email": form.get("email", "").strip() or None}
    try:
        changes = _changes(gw, body, creating=True)
        account = await gw.store.create_account(name, **changes)
    except GatewayError as error:
        return await accounts(visit, error=error.message)
    except InvalidAccountName as exc:
        return await accounts(visit, error=f"The name {exc}.")
    except AccountExists:
        return await accounts(visit, error="An account with that name exists.")
    return RedirectResponse(f"/app/operator/accounts/{account.id}?created=1", status_code=303)


async def account(
    visit: Visit,
    *,
    error: str | None = None,
    created_key: dict[str, Any] | None = None,
) -> Response:
    gw = visit.gw
    found = await gw.store.get_account(visit.request.path_params["account_id"])
    if found is None:
        return visit.render("message.html", 404, title="No such account", message=_NO_ACCOUNT)
    tokens, cost = await gw.quota.used_today(f"account:{found.id}", utc_today())
    policy = gw.plans.policy(found.plan, found.limits, None)
    view = account_view(gw, found)
    return visit.render(
        "operator_account.html",
        400 if error else 200,
        account=view,
        requirement_values=requirement_form_values(view["data_policy"]),
        # The cap as stored (pico-dollars), so the page writes it as exact money.
        cost_cap_picousd=policy.account.cost_per_day_picousd,
        overrides=dict(found.limits or {}),
        plan_limits=limits_view(gw.plans.limits(found.plan)) if found.plan in gw.plans else {},
        limit_fields=LIMIT_FIELDS,
        plans=gw.plans.names(),
        keys=[key_view(k) for k in await gw.store.list_keys(found.id)],
        tokens_today=tokens,
        cost_today=cost,
        error=error,
        created_key=created_key,
        notice=_notice(visit),
    )


def _notice(visit: Visit) -> str | None:
    params = visit.request.query_params
    if "created" in params:
        return "Account created."
    if "saved" in params:
        return "Changes saved."
    return None


def _update_body(form: Any) -> dict[str, Any]:
    """The edit form as the operator API's PATCH body. Blank limit fields fall back to the
    plan's; numbers stay exact (the cost as a decimal string)."""
    limits: dict[str, Any] = {}
    for name in LIMIT_FIELDS:
        raw = form.get(name, "").strip()
        if raw:
            # isdecimal, not isdigit ("²" would fail int()); the API validates the rest.
            number = raw.isdecimal() and len(raw) <= 18 and name != "cost_per_day_usd"
            limits[name] = int(raw) if number else raw
    return {
        "plan": form.get("plan"),
        "email": form.get("email", "").strip() or None,
        "limits": limits or None,
        "disabled": form.get("disabled") == "on",
        # The whole requirement, as the form shows it: unchecked and blank clear it.
        "data_policy": requirement_form_body(form),
    }


async def update_account(visit: Visit) -> Response:
    gw = visit.gw
    account_id = visit.request.path_params["account_id"]
    try:
        changes = _changes(gw, _update_body(visit.form), creating=False)
    except GatewayError as error:
        return await account(visit, error=error.message)
    updated = await gw.store.update_account(account_id, **changes)
    if updated is None:
        return visit.render("message.html", 404, title="No such account", message=_NO_ACCOUNT)
    # At once here; other processes see it when their key cache next refreshes.
    gw.keys.account_changed(updated)
    return RedirectResponse(f"/app/operator/accounts/{account_id}?saved=1", status_code=303)


async def create_account_key(visit: Visit) -> Response:
    gw = visit.gw
    account_id = visit.request.path_params["account_id"]
    if await gw.store.get_account(account_id) is None:
        return visit.render("message.html", 404, title="No such account", message=_NO_ACCOUNT)
    try:
        options = key_options(gw, key_form_body(visit.form))
    except GatewayError as error:
        return await account(visit, error=error.message)
    plaintext, record = await issue_key(gw.store, account_id, **options)
    return await account(visit, created_key={**key_view(record), "key": plaintext})


_NO_ACCOUNT = "There is no account with that id."


async def usage(visit: Visit) -> Response:
    gw = visit.gw
    days = charts.period(visit.request.query_params.get("days"))
    today = utc_today()
    since = today - timedelta(days=days - 1)
    rows = await gw.store.usage_by_day(account_id=None, since=since)
    by_surface = await gw.store.usage_by_surface(account_id=None, since=since)
    names = {a.id: a.name for a in await gw.store.list_accounts()}

    def account_of(row: UsageRow) -> str:
        return names.get(row.account_id, row.account_id)  # a deleted account: its id

    per_account: dict[str, list[UsageRow]] = {}
    for row in rows:
        per_account.setdefault(account_of(row), []).append(row)
    return visit.render(
        "operator_usage.html",
        days=days,
        periods=charts.PERIODS,
        since=since,
        rows=rows,
        account_of=account_of,
        totals=charts.Totals.of(rows),
        per_account=sorted(
            ((name, charts.Totals.of(group)) for name, group in per_account.items()),
            key=lambda item: (-item[1].requests, item[0]),
        ),
        by_surface=surfaces(by_surface),
        retention_days=gw.settings.metadata_retention_days,
        requests_chart=charts.series(
            rows, since, today, unit="requests", group=account_of, value=charts.requests_of
        ),
        cost_chart=charts.series(
            rows, since, today, unit="usd", group=account_of, value=charts.cost_usd
        ),
    )


async def health(visit: Visit) -> Response:
    report = visit.gw.router.health_report()
    # Render whatever each entry reports: the routing work adds fields over time.
    columns: list[str] = []
    for entry in report:
        columns.extend(name for name in entry if name not in columns)
    return visit.render("operator_health.html", report=report, columns=columns)
