"""An account holder's pages: Overview (today against the daily caps), Usage (charts and
tables by day and model, a table by surface, CSV export), Keys (create, shown once; revoke),
Models (the catalog with prices and health) and Privacy (where prompts may go downstream, what
is stored, and the latest records).

They show what the account's JSON API shows, built from the same functions.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.responses import RedirectResponse, Response

from ..api import native
from ..api.account import key_options, key_view, surfaces, usage_row
from ..api.admin import limits_view
from ..auth import issue_key
from ..data_policy import DataPolicyError, DataRequirement
from ..errors import GatewayError
from ..gateway import Gateway
from ..limits.quota import next_midnight_epoch, utc_today
from ..metering.pricing import picousd_to_usd
from ..metering.record import METADATA_FIELDS
from ..storage import UsageRow
from . import charts
from .access import Visit

RECENT_RECORDS = 20
# The privacy page's record table: the stored columns, a few to a table column (one a line) so
# that all of them fit one screen. A stored column missing here still shows, on its own.
RECORD_GROUPS = (
    ("request_id", "created_at"),
    ("account_id", "key_id"),
    ("endpoint", "routing_mode", "strategy"),
    ("requested_model", "served_model", "provider"),
    ("http_status", "error_code", "attempts", "fallback_used"),
    (
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "usage_estimated",
    ),
    ("cost_picousd", "latency_ms", "ttfb_ms"),
    ("data_policy_required", "data_policy_met", "data_policy_served"),
)
CSV_FIELDS = (
    "day",
    "model",
    "requests",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost_usd",
    "unknown_cost_requests",
    "refused_requests",
)


async def overview(visit: Visit) -> Response:
    gw, principal = visit.gw, visit.viewer.account
    limits = principal.policy.account
    scope = f"account:{principal.account_id}"
    today = utc_today()
    tokens, cost = await gw.quota.used_today(scope, today)
    rows = await gw.store.usage(account_id=principal.account_id, since=today)
    resets_at = datetime.fromtimestamp(next_midnight_epoch(today), UTC)
    left = resets_at - datetime.now(UTC)
    return visit.render(
        "overview.html",
        plan=principal.plan,
        limits=limits_view(limits),
        cost_cap_picousd=limits.cost_per_day_picousd,
        today={
            "day": today,
            "tokens": tokens,
            "cost_picousd": cost,
            "requests": sum(r.requests for r in rows),
            "refused_requests": sum(r.refused_requests or 0 for r in rows),
            "requests_this_minute": await gw.quota.rate_in_use(scope, limits.rpm)
            if limits.rpm
            else None,
            "in_flight": await gw.quota.in_flight(scope),
        },
        resets_at=resets_at,
        resets_in=f"{left.seconds // 3600} h {left.seconds % 3600 // 60} min",
        key_caps=principal.policy.key is not None,
    )


async def _usage_rows(visit: Visit, days: int) -> tuple[list[UsageRow], date, date]:
    today = utc_today()
    since = today - timedelta(days=days - 1)
    rows = await visit.gw.store.usage_by_day(
        account_id=visit.viewer.account.account_id, since=since
    )
    return rows, since, today


async def usage(visit: Visit) -> Response:
    days = charts.period(visit.request.query_params.get("days"))
    rows, since, today = await _usage_rows(visit, days)
    by_surface = await visit.gw.store.usage_by_surface(
        account_id=visit.viewer.account.account_id, since=since
    )
    model = charts.model_of
    return visit.render(
        "usage.html",
        days=days,
        periods=charts.PERIODS,
        since=since,
        rows=rows,
        totals=charts.Totals.of(rows),
        by_model=charts.by_model(rows),
        by_surface=surfaces(by_surface),
        retention_days=visit.gw.settings.metadata_retention_days,
        requests_chart=charts.series(
            rows, since, today, unit="requests", group=model, value=charts.requests_of
        ),
        tokens_chart=charts.token_series(rows, since, today),
        cost_chart=charts.series(
            rows, since, today, unit="usd", group=model, value=charts.cost_usd
        ),
        token_kinds=charts.TOKEN_KINDS,
    )


async def usage_csv(visit: Visit) -> Response:
    days = charts.period(visit.request.query_params.get("days"))
    rows, _, _ = await _usage_rows(visit, days)
    out = io.StringIO()
    # The JSON API's fields, in its order; a field added there fails loudly here.
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="raise")
    writer.writeheader()
    for row in rows:
        # Exact dollars from the integer pico-dollars, not the float the JSON API carries.
        writer.writerow({**usage_row(row), "cost_usd": str(picousd_to_usd(row.cost_picousd))})
    name = f"routeplex-usage-{days}d.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _keys_page(
    visit: Visit, *, created: dict[str, Any] | None = None, error: str | None = None
) -> Response:
    principal = visit.viewer.account
    keys = [key_view(k) for k in await visit.gw.store.list_keys(principal.account_id)]
    return visit.render(
        "keys.html",
        400 if error else 200,
        keys=keys,
        current_key_id=principal.key_id,
        created=created,
        error=error,
        revoked=visit.request.query_params.get("revoked"),
        form=visit.form,
    )


async def keys(visit: Visit) -> Response:
    return await _keys_page(visit)


def key_form_body(form: Any) -> dict[str, Any]:
    """The form as the JSON API's body, so the API's validation applies unchanged."""
    body: dict[str, Any] = {"name": form.get("name", "").strip() or None}
    expires = form.get("expires_in_days", "").strip()
    # isdecimal, not isdigit ("²" would fail int()); anything else goes to the API's validation.
    number = expires.isdecimal() and len(expires) <= 9
    body["expires_in_days"] = int(expires) if number else (expires or None)
    body["data_policy"] = requirement_form_body(form)
    return body


def requirement_form_body(form: Any) -> dict[str, Any]:
    """A form's data-policy controls as the JSON APIs' `data_policy` (all unset: none)."""
    regions = [code.strip() for code in form.get("regions", "").split(",") if code.strip()]
    return {
        "zero_retention": form.get("zero_retention") == "on",
        "no_training": form.get("no_training") == "on",
        "regions": regions or None,
    }


def requirement_form_values(view: Mapping[str, Any] | None) -> dict[str, Any]:
    """A requirement as the JSON APIs show it, as the form's controls show it."""
    if not view:
        return {}
    regions = view.get("regions")
    return {
        "zero_retention": view.get("zero_retention"),
        "no_training": view.get("no_training"),
        "regions": ", ".join(regions) if regions is not None else "",
    }


async def create_key(visit: Visit) -> Response:
    gw = visit.gw
    try:
        options = key_options(gw, key_form_body(visit.form))
    except GatewayError as error:
        return await _keys_page(visit, error=error.message)
    plaintext, record = await issue_key(gw.store, visit.viewer.account.account_id, **options)
    # The one time this key exists outside its holder's hands: this (no-store) page.
    return await _keys_page(visit, created={**key_view(record), "key": plaintext})


async def _active_key(visit: Visit) -> dict[str, Any] | None:
    key_id = visit.request.path_params["key_id"]
    for key in await visit.gw.store.list_keys(visit.viewer.account.account_id):
        if key.id == key_id and key.revoked_at is None:
            return key_view(key)
    return None


async def confirm_revoke(visit: Visit) -> Response:
    key = await _active_key(visit)
    if key is None:
        return visit.render("message.html", 404, title="No such key", message=_NO_KEY)
    own = key["id"] == visit.viewer.account.key_id
    return visit.render("revoke.html", key=key, own=own)


async def revoke_key(visit: Visit) -> Response:
    gw, principal = visit.gw, visit.viewer.account
    key_id = visit.request.path_params["key_id"]
    if not await gw.store.revoke_key(key_id, account_id=principal.account_id):
        return visit.render("message.html", 404, title="No such key", message=_NO_KEY)
    gw.keys.revoked(key_id)
    return RedirectResponse(f"/app/keys?revoked={key_id}", status_code=303)


_NO_KEY = "This account has no active key with that id."


async def models(visit: Visit) -> Response:
    # The very view GET /api/v1/models serves, so the page and the API never disagree.
    return visit.render("models.html", models=native.catalog(visit.gw))


async def privacy(visit: Visit) -> Response:
    gw, principal = visit.gw, visit.viewer.account
    account = await gw.store.get_account(principal.account_id)
    records = await gw.store.recent_metadata(principal.account_id, limit=RECENT_RECORDS)
    label = account.data_policy if account is not None else None
    required = account_requirement(label)
    return visit.render(
        "privacy.html",
        account=account,
        requirement=label,
        key_requirement=principal.key_data_policy,
        key_combined=principal.data_requirement.label() if principal.data_requirement else None,
        policy_models=policy_models(gw, required),
        policies=await gw.store.recent_data_policies(principal.account_id, RECENT_RECORDS),
        fields=METADATA_FIELDS,
        groups=record_groups(METADATA_FIELDS),
        records=[record.as_row() for record in records],
        retention_days=gw.settings.metadata_retention_days,
        recent=RECENT_RECORDS,
    )


def account_requirement(label: str | None) -> DataRequirement:
    """The account's stored requirement; one that cannot be read is met by nothing, as the
    key cache treats it (`auth._requirement`)."""
    try:
        return DataRequirement.parse(label)
    except DataPolicyError:
        return DataRequirement(regions=frozenset())


def policy_models(gw: Gateway, required: DataRequirement) -> list[dict[str, Any]]:
    """Each model this gateway serves, its deployments' policies, and what of `required` none
    of them meets (empty: it may serve the account) — the routing rule itself."""
    return [
        {
            "id": model.id,
            "deployments": [(d.provider, d.data_policy_label) for d in model.deployments],
            "unmet": gw.router.unmet(model, required),
        }
        for model in gw.catalog.available()
        if gw.router.servable(model)
    ]


def record_groups(fields: tuple[str, ...]) -> list[tuple[str, ...]]:
    """`RECORD_GROUPS` restricted to the stored `fields`, then any field they do not name."""
    grouped = [tuple(f for f in group if f in fields) for group in RECORD_GROUPS]
    named = {f for group in grouped for f in group}
    return [g for g in grouped if g] + [(f,) for f in fields if f not in named]
