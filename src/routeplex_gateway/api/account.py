"""The account holder's own surface, authenticated with one of the account's keys:
`GET /api/v1/usage` (per day and model, and per surface), `GET /api/v1/account` (plan,
limits, data-policy requirement, today), and `GET|POST /api/v1/account/keys`,
`DELETE /api/v1/account/keys/{key_id}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..auth import Principal, issue_key
from ..errors import ErrorCode, GatewayError, validation
from ..gateway import Gateway
from ..limits.plans import Limits, validate_limits
from ..limits.quota import next_midnight_epoch, utc_today
from ..metering.pricing import picousd_to_usd
from ..metering.record import Endpoint
from ..storage import ApiKey, SurfaceUsage, UsageRow
from .data_requirement import requirement_label, requirement_view
from .native import error_response
from .wire import authenticate, json_response, read_json

MAX_USAGE_DAYS = 7 * 366  # billing records are kept 7 years
# What the usage views call each surface (an `Endpoint` value), in the order they list them.
SURFACE_NAMES = {
    Endpoint.OPENAI_CHAT: "OpenAI Chat Completions",
    Endpoint.NATIVE_CHAT: "Native API",
    Endpoint.ANTHROPIC_MESSAGES: "Anthropic Messages",
    Endpoint.OPENAI_RESPONSES: "OpenAI Responses",
    Endpoint.OPENAI_EMBEDDINGS: "OpenAI Embeddings",
}


def _ok(data: Any, status: int = 200) -> Response:
    return json_response(orjson.dumps({"success": True, "data": data}), status)


def _usd(picousd: int | None) -> float | None:
    return float(picousd_to_usd(picousd)) if picousd is not None else None


async def _principal(request: Request) -> tuple[Gateway, Principal]:
    gw: Gateway = request.app.state.gateway
    return gw, await authenticate(request, gw.keys)


def usage_row(row: UsageRow) -> dict[str, Any]:
    return {
        "day": row.day.isoformat(),
        "model": row.model,
        "requests": row.requests,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cache_read_tokens": row.cache_read_tokens,
        "cache_write_tokens": row.cache_write_tokens,
        "reasoning_tokens": row.reasoning_tokens,
        "total_tokens": row.input_tokens + row.output_tokens,
        "cost_usd": _usd(row.cost_picousd),
        "unknown_cost_requests": row.unknown_cost_requests,
        "refused_requests": row.refused_requests,
    }


def surfaces(found: Sequence[SurfaceUsage]) -> list[tuple[str, SurfaceUsage]]:
    """Every surface with its name, in `SURFACE_NAMES` order: one no request came in by has
    zero of everything (none were made, so nothing is unknown). An endpoint stored that has
    no name here (none today) follows, named by its value."""
    stored = {row.endpoint: row for row in found}
    named = [
        (name, stored.get(endpoint) or _unused(endpoint))
        for endpoint, name in SURFACE_NAMES.items()
    ]
    return named + [(row.endpoint, row) for row in found if row.endpoint not in SURFACE_NAMES]


def _unused(endpoint: str) -> SurfaceUsage:
    return SurfaceUsage(
        endpoint=endpoint,
        requests=0,
        input_tokens=0,
        output_tokens=0,
        cost_picousd=0,
        unknown_cost_requests=0,
        refused_requests=0,
    )


def surface_row(name: str, row: SurfaceUsage) -> dict[str, Any]:
    return {
        "surface": name,
        "endpoint": row.endpoint,
        "requests": row.requests,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "total_tokens": row.input_tokens + row.output_tokens,
        "cost_usd": _usd(row.cost_picousd),
        "unknown_cost_requests": row.unknown_cost_requests,
        "refused_requests": row.refused_requests,
    }


async def usage(request: Request) -> Response:
    try:
        gw, principal = await _principal(request)
        raw_days = request.query_params.get("days", "7")
        # isdecimal, not isdigit: "²" is a digit int() refuses; the length keeps int() cheap.
        if (
            not (raw_days.isdecimal() and len(raw_days) <= 9)
            or not 1 <= int(raw_days) <= MAX_USAGE_DAYS
        ):
            raise validation(f"'days' must be an integer from 1 to {MAX_USAGE_DAYS}.", "days")
        days = int(raw_days)
    except GatewayError as error:
        return error_response(error)
    since = utc_today() - timedelta(days=days - 1)
    rows = await gw.store.usage_by_day(account_id=principal.account_id, since=since)
    by_surface = await gw.store.usage_by_surface(account_id=principal.account_id, since=since)
    totals = {
        "requests": sum(r.requests for r in rows),
        "input_tokens": sum(r.input_tokens for r in rows),
        "output_tokens": sum(r.output_tokens for r in rows),
        "cost_usd": _usd(sum(r.cost_picousd for r in rows)),
        "unknown_cost_requests": sum(r.unknown_cost_requests for r in rows),
        # Days billed before refusals were counted apart add nothing: unknown, not zero.
        "refused_requests": sum(r.refused_requests or 0 for r in rows),
    }
    return _ok(
        {
            "days": days,
            "since": since.isoformat(),
            "usage": [usage_row(r) for r in rows],
            "totals": totals,
            "by_surface": [surface_row(name, row) for name, row in surfaces(by_surface)],
        }
    )


def _limits(limits: Limits) -> dict[str, Any]:
    return {
        "tokens_per_day": limits.tokens_per_day,
        "cost_per_day_usd": _usd(limits.cost_per_day_picousd),
        "rpm": limits.rpm,
        "concurrency": limits.concurrency,
        "binding": limits.binding,
    }


async def account(request: Request) -> Response:
    """Today against the daily caps: what the dashboard's overview shows."""
    try:
        gw, principal = await _principal(request)
    except GatewayError as error:
        return error_response(error)
    limits = principal.policy.account
    scope = f"account:{principal.account_id}"
    today = utc_today()
    tokens, cost = await gw.quota.used_today(scope, today)
    rows = await gw.store.usage(account_id=principal.account_id, since=today)
    # The account's own requirement, as stored (the principal holds it combined with the key's).
    stored = await gw.store.get_account(principal.account_id)
    return _ok(
        {
            "account_id": principal.account_id,
            "name": principal.account_name,
            "plan": principal.plan,
            "limits": _limits(limits),
            "data_policy": requirement_view(stored.data_policy if stored else None),
            "today": {
                "day": today.isoformat(),
                "tokens": tokens,
                "cost_usd": _usd(cost),
                "requests": sum(r.requests for r in rows),
                "refused_requests": sum(r.refused_requests or 0 for r in rows),
                "requests_this_minute": await gw.quota.rate_in_use(scope, limits.rpm)
                if limits.rpm
                else None,
                "in_flight": await gw.quota.in_flight(scope),
                "resets_at": datetime.fromtimestamp(next_midnight_epoch(today), UTC).isoformat(),
            },
        }
    )


def key_view(key: ApiKey) -> dict[str, Any]:
    now = datetime.now(UTC)
    status = (
        "revoked"
        if key.revoked_at
        else "expired"
        if key.expires_at and key.expires_at <= now
        else "active"
    )
    return {
        "id": key.id,
        "name": key.name,
        "display": f"{key.display_prefix}…{key.last4}",
        "created_at": key.created_at.isoformat(),
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "last_used_day": key.last_used_day.isoformat() if key.last_used_day else None,
        "allowed_models": list(key.allowed_models) if key.allowed_models is not None else None,
        "limits": dict(key.limits) if key.limits else None,
        # The key's own requirement; what applies to it is this combined with its account's.
        "data_policy": requirement_view(key.data_policy),
        "status": status,
    }


async def list_keys(request: Request) -> Response:
    try:
        gw, principal = await _principal(request)
    except GatewayError as error:
        return error_response(error)
    keys = await gw.store.list_keys(principal.account_id)
    return _ok([key_view(k) for k in keys])


def key_options(gw: Gateway, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise validation("The request body must be a JSON object.")
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 100):
        raise validation("'name' must be a string of at most 100 characters.", "name")
    expires = body.get("expires_in_days")
    if expires is not None and (
        isinstance(expires, bool) or not isinstance(expires, int) or not 1 <= expires <= 3650
    ):
        raise validation("'expires_in_days' must be an integer from 1 to 3650.", "expires_in_days")
    models = body.get("allowed_models")
    if models is not None:
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise validation("'allowed_models' must be an array of model ids.", "allowed_models")
        resolved = [gw.catalog.resolve(m) for m in models]
        if any(m is None for m in resolved):
            raise GatewayError(
                ErrorCode.INVALID_MODEL,
                "Unknown model in 'allowed_models'.",
                param="allowed_models",
            )
        models = [m.id for m in resolved if m is not None]
    limits = body.get("limits")
    if limits is not None:
        try:
            limits = validate_limits(limits)
        except ValueError as exc:
            raise validation(f"'limits': {exc}.", "limits") from None
    return {
        "name": name,
        "expires_in_days": expires,
        "allowed_models": models,
        "limits": limits,
        # Only ever narrows the account's: the key cache combines the two (`auth.Principal`).
        "data_policy": requirement_label(body.get("data_policy")),
    }


async def create_key(request: Request) -> Response:
    try:
        gw, principal = await _principal(request)
        options = key_options(gw, await read_json(request, gw.settings.max_body_bytes))
    except GatewayError as error:
        return error_response(error)
    plaintext, record = await issue_key(gw.store, principal.account_id, **options)
    # The only time the key exists outside the caller's hands: this response.
    return _ok({**key_view(record), "key": plaintext}, status=201)


async def revoke_key(request: Request) -> Response:
    try:
        gw, principal = await _principal(request)
    except GatewayError as error:
        return error_response(error)
    key_id = request.path_params["key_id"]
    if not await gw.store.revoke_key(key_id, account_id=principal.account_id):
        return error_response(GatewayError(ErrorCode.NOT_FOUND, "No active key with that id."))
    gw.keys.revoked(key_id)
    return _ok({"id": key_id, "revoked": True})
