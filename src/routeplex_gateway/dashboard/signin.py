"""Signing in and out of the dashboard.

An account holder signs in with one of the account's API keys, an operator with an admin
key; either is checked exactly as an API call's key is (including the per-address throttle
on failures) and never kept: the session cookie holds the key's id. The sign-in form is
protected against cross-site posting by a double-submit token (a random value both in an
HTTP-only SameSite=Strict cookie and in the form), since there is no session to bind it to.
"""

from __future__ import annotations

import hmac
import logging
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..api.wire import client_address
from ..auth import ADMIN_PREFIX
from ..errors import GatewayError
from ..gateway import Gateway
from .access import HOME, Visit, forbidden, read_form, same_origin, viewer_for
from .rendering import Pages
from .session import (
    COOKIE,
    SIGNIN_COOKIE,
    Sessions,
    clear_cookie,
    set_session_cookie,
    set_signin_cookie,
)

log = logging.getLogger(__name__)


def _form(
    pages: Pages, request: Request, *, error: str | None = None, status: int = 200
) -> Response:
    token = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(24)
    params = request.query_params
    response = pages.render(
        "signin.html",
        {
            "role": None,
            "csrf": token,
            "error": error,
            "ended": "ended" in params,
            "signed_out": "signed_out" in params,
        },
        status,
    )
    set_signin_cookie(response, request, token)
    return response


async def signin_form(pages: Pages, sessions: Sessions, request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    session = sessions.read(request.cookies.get(COOKIE))
    if session is not None and viewer_for(gw, sessions, session) is not None:
        return RedirectResponse(HOME[session.role], status_code=303)
    return _form(pages, request)


def _refusal(error: GatewayError) -> str:
    if error.status == 401:
        return "That key was not accepted: it is unknown, revoked or expired."
    if error.status == 429:
        return "Too many failed sign-in attempts from this address. Wait a minute."
    return error.message


async def signin(pages: Pages, sessions: Sessions, request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    form = await read_form(request) if same_origin(request) else None
    expected = request.cookies.get(SIGNIN_COOKIE)
    submitted = form.get("csrf") if form else None
    if not (form and expected and submitted and hmac.compare_digest(expected, submitted)):
        return forbidden(pages)
    key = form.get("key", "").strip()
    if not key:
        return _form(pages, request, error="Paste one of your API keys.", status=400)
    client = client_address(request)
    try:
        if key.startswith(ADMIN_PREFIX):
            admin = await gw.keys.authenticate_admin(f"Bearer {key}", client)
            session, token = sessions.issue("operator", admin.id)
        else:
            principal = await gw.keys.authenticate(f"Bearer {key}", client)
            session, token = sessions.issue("account", principal.key_id)
    except GatewayError as error:
        return _form(pages, request, error=_refusal(error), status=error.status)
    log.info("dashboard sign-in", extra={"key_id": session.key_id})
    response = RedirectResponse(HOME[session.role], status_code=303)
    set_session_cookie(response, request, token, sessions.ttl_s)
    clear_cookie(response, request, SIGNIN_COOKIE)
    return response


async def signout(visit: Visit) -> Response:
    """End the session everywhere, not only in this browser: a copy of the cookie is refused
    from now on by this process, and by every other within ROUTEPLEX_KEY_REFRESH_S."""
    session = visit.viewer.session
    await visit.gw.signed_out.revoke(session.nonce, session.expires_at)
    log.info("dashboard sign-out", extra={"key_id": session.key_id})
    response = RedirectResponse("/app/signin?signed_out=1", status_code=303)
    clear_cookie(response, visit.request, COOKIE)
    return response
