"""The operator's surface, `/admin/...`, authenticated with an admin key (stored as a hash):
accounts (create, change plan, limits or data-policy requirement, disable, delete), their
keys, plans, usage across accounts (per day and model, or per surface), and the health of
providers' deployments. Native envelope.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..auth import issue_key
from ..errors import ErrorCode, GatewayError, validation
from ..gateway import Gateway
from ..limits.plans import Limits, validate_limits
from ..limits.quota import utc_today
from ..storage import Account, AccountExists, InvalidAccountName
from .account import MAX_USAGE_DAYS, key_options, key_view, surface_row, surfaces, usage_row
from .data_requirement import requirement_label, requirement_view
from .native import error_response
from .wire import client_address, json_response, read_json


def _ok(data: Any, status: int = 200) -> Response:
    return json_response(orjson.dumps({"success": True, "data": data}), status)


def _not_found(what: str) -> GatewayError:
    return GatewayError(ErrorCode.NOT_FOUND, f"No such {what}.")


async def _admin(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    await gw.keys.authenticate_admin(request.headers.get("authorization"), client_address(request))
    return gw


def limits_view(limits: Limits) -> dict[str, Any]:
    from ..metering.pricing import picousd_to_usd

    cost = limits.cost_per_day_picousd
    return {
        "tokens_per_day": limits.tokens_per_day,
        "cost_per_day_usd": float(picousd_to_usd(cost)) if cost is not None else None,
        "rpm": limits.rpm,
        "concurrency": limits.concurrency,
        "binding": limits.binding,
    }


def account_view(gw: Gateway, account: Account) -> dict[str, Any]:
    policy = gw.plans.policy(account.plan, account.limits, None)
    return {
        "id": account.id,
        "name": account.name,
        "email": account.email,
        "plan": account.plan,
        "limit_overrides": dict(account.limits) if account.limits else None,
        "limits": limits_view(policy.account),
        "disabled": account.disabled,
        "data_policy": requirement_view(account.data_policy),
        "created_at": account.created_at.isoformat(),
        "updated_at": account.updated_at.isoformat(),
    }


def _changes(gw: Gateway, body: Any, *, creating: bool) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise validation("The request body must be a JSON object.")
    changes: dict[str, Any] = {}
    if "plan" in body:
        # A string first: a JSON object or array is unhashable and would fail the lookup.
        if not isinstance(body["plan"], str) or body["plan"] not in gw.plans:
            raise validation(f"'plan' must be one of {', '.join(gw.plans.names())}.", "plan")
        changes["plan"] = body["plan"]
    if "email" in body:
        if body["email"] is not None and not isinstance(body["email"], str):
            raise validation("'email' must be a string.", "email")
        changes["email"] = body["email"]
    if "limits" in body and not creating:
        try:
            changes["limits"] = None if body["limits"] is None else validate_limits(body["limits"])
        except ValueError as exc:
            raise validation(f"'limits': {exc}.", "limits") from None
    if "data_policy" in body:
        changes["data_policy"] = requirement_label(body["data_policy"])
    if "disabled" in body and not creating:
        if not isinstance(body["disabled"], bool):
            raise validation("'disabled' must be a boolean.", "disabled")
        changes["disabled"] = body["disabled"]
    return changes


async def list_accounts(request: Request) -> Response:
    try:
        gw = await _admin(request)
    except GatewayError as error:
        return error_response(error)
    return _ok([account_view(gw, a) for a in await gw.store.list_accounts()])


async def create_account(request: Request) -> Response:
    try:
        gw = await _admin(request)
        body = await read_json(request, gw.settings.max_body_bytes)
        changes = _changes(gw, body, creating=True)
        data_policy = changes.pop("data_policy", None)
        name = body.get("name")
        if not isinstance(name, str):
            raise validation("'name' must be a string.", "name")
        try:
            account = await gw.store.create_account(name, **changes)
        except InvalidAccountName as exc:
            raise validation(f"'name' {exc}.", "name") from None
        except AccountExists:
            raise GatewayError(
                ErrorCode.BAD_REQUEST, "An account with that name exists.", param="name"
            ) from None
        if data_policy is not None:
            # Set before the account has any key, so nothing is ever served without it.
            account = await gw.store.update_account(account.id, data_policy=data_policy) or account
    except GatewayError as error:
        return error_response(error)
    return _ok(account_view(gw, account), 201)


async def get_account(request: Request) -> Response:
    try:
        gw = await _admin(request)
        account = await gw.store.get_account(request.path_params["account_id"])
        if account is None:
            raise _not_found("account")
    except GatewayError as error:
        return error_response(error)
    return _ok(account_view(gw, account))


async def update_account(request: Request) -> Response:
    try:
        gw = await _admin(request)
        changes = _changes(gw, await read_json(request, gw.settings.max_body_bytes), creating=False)
        account = await gw.store.update_account(request.path_params["account_id"], **changes)
        if account is None:
            raise _not_found("account")
        # A disabled account's keys are refused from now, and a new data-policy requirement
        # holds for its next request.
        gw.keys.account_changed(account)
    except GatewayError as error:
        return error_response(error)
    return _ok(account_view(gw, account))


async def delete_account(request: Request) -> Response:
    try:
        gw = await _admin(request)
        account_id = request.path_params["account_id"]
        keys = await gw.store.list_keys(account_id)
        if not await gw.store.delete_account(account_id):
            raise _not_found("account")
        for key in keys:
            gw.keys.revoked(key.id)
    except GatewayError as error:
        return error_response(error)
    return _ok({"id": account_id, "deleted": True})


async def account_keys(request: Request) -> Response:
    try:
        gw = await _admin(request)
        account_id = request.path_params["account_id"]
        if await gw.store.get_account(account_id) is None:
            raise _not_found("account")
    except GatewayError as error:
        return error_response(error)
    return _ok([key_view(k) for k in await gw.store.list_keys(account_id)])


async def create_account_key(request: Request) -> Response:
    try:
        gw = await _admin(request)
        account_id = request.path_params["account_id"]
        if await gw.store.get_account(account_id) is None:
            raise _not_found("account")
        options = key_options(gw, await read_json(request, gw.settings.max_body_bytes))
    except GatewayError as error:
        return error_response(error)
    plaintext, record = await issue_key(gw.store, account_id, **options)
    return _ok({**key_view(record), "key": plaintext}, 201)


async def revoke_key(request: Request) -> Response:
    try:
        gw = await _admin(request)
        key_id = request.path_params["key_id"]
        if not await gw.store.revoke_key(key_id):
            raise _not_found("active key")
        gw.keys.revoked(key_id)
    except GatewayError as error:
        return error_response(error)
    return _ok({"id": key_id, "revoked": True})


async def plans(request: Request) -> Response:
    try:
        gw = await _admin(request)
    except GatewayError as error:
        return error_response(error)
    return _ok({name: limits_view(gw.plans.limits(name)) for name in gw.plans.names()})


def _usage_period(request: Request) -> tuple[date, str | None]:
    """`since` from the `days` parameter, and the `account_id` asked for (None: all)."""
    raw = request.query_params.get("days", "7")
    # isdecimal, not isdigit: "²" is a digit int() refuses; the length keeps int() cheap.
    if not (raw.isdecimal() and len(raw) <= 9) or not 1 <= int(raw) <= MAX_USAGE_DAYS:
        raise validation(f"'days' must be an integer from 1 to {MAX_USAGE_DAYS}.", "days")
    return utc_today() - timedelta(days=int(raw) - 1), request.query_params.get("account_id")


async def usage(request: Request) -> Response:
    try:
        gw = await _admin(request)
        since, account_id = _usage_period(request)
    except GatewayError as error:
        return error_response(error)
    rows = await gw.store.usage_by_day(account_id=account_id, since=since)
    return _ok([{**usage_row(r), "account_id": r.account_id} for r in rows])


async def usage_by_surface(request: Request) -> Response:
    """Every surface's usage, of all accounts or the one asked for (from request metadata)."""
    try:
        gw = await _admin(request)
        since, account_id = _usage_period(request)
    except GatewayError as error:
        return error_response(error)
    found = await gw.store.usage_by_surface(account_id=account_id, since=since)
    return _ok([surface_row(name, row) for name, row in surfaces(found)])


async def health(request: Request) -> Response:
    """Every deployment of every catalog model and whether it can be served."""
    try:
        gw = await _admin(request)
    except GatewayError as error:
        return error_response(error)
    return _ok(gw.router.health_report())
