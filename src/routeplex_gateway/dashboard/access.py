"""Who is looking at a dashboard page, and whether they may: the session cookie resolved
against the signed-out sessions and the in-memory key cache on every page, the role a page
needs, and the CSRF and origin checks every form submission passes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response

from ..auth import Principal
from ..gateway import Gateway
from ..storage import AdminKey
from .rendering import Pages
from .session import COOKIE, Role, Session, Sessions, clear_cookie

SIGNIN = "/app/signin"
HOME = {"account": "/app/", "operator": "/app/operator/accounts"}
# Dashboard forms are a handful of short fields; nothing legitimate comes near this.
MAX_FORM_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class Viewer:
    """A signed-in person: an account holder (with the key's principal) or an operator."""

    session: Session
    csrf: str
    principal: Principal | None = None
    admin: AdminKey | None = None

    @property
    def account(self) -> Principal:
        assert self.principal is not None, "an account holder's page"
        return self.principal


@dataclass(slots=True)
class Visit:
    """One request to a signed-in page: what a page handler works with."""

    request: Request
    gw: Gateway
    viewer: Viewer
    pages: Pages
    form: Mapping[str, str] = field(default_factory=dict)

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        viewer = self.viewer
        base = {
            "role": viewer.session.role,
            "csrf": viewer.csrf,
            "account_name": viewer.principal.account_name if viewer.principal else None,
            "path": self.request.url.path,
        }
        return self.pages.render(template, {**base, **context}, status)


Handler = Callable[[Visit], Awaitable[Response]]


def signed_out(request: Request, *, ended: bool) -> Response:
    """To the sign-in page; forget the cookie if it stood for a session that has ended."""
    response = RedirectResponse(SIGNIN + ("?ended=1" if ended else ""), status_code=303)
    if ended:
        clear_cookie(response, request, COOKIE)
    return response


def viewer_for(gw: Gateway, sessions: Sessions, session: Session) -> Viewer | None:
    """The viewer of a valid session, if it was not signed out and its key is still good in
    the key cache."""
    if session.nonce in gw.signed_out:
        return None
    csrf = sessions.csrf_token(session)
    if session.role == "operator":
        admin = gw.keys.admin_for_key_id(session.key_id)
        if admin is None or admin.revoked_at is not None:
            return None
        return Viewer(session, csrf, admin=admin)
    principal = gw.keys.principal_for_key_id(session.key_id)
    if principal is None or principal.revoked or principal.disabled:
        return None
    if principal.expires_at is not None and principal.expires_at <= datetime.now(UTC):
        return None
    return Viewer(session, csrf, principal=principal)


def same_origin(request: Request) -> bool:
    """A form post from one of our own pages, by what the browser says about it. Browsers
    send these headers with every POST (`Origin: null` is an opaque origin, never ours); a
    non-browser client that sends neither still needs the CSRF token."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    # A proxy may rewrite Host and say the original in X-Forwarded-Host. Trusting that is
    # safe here: a cross-site form post cannot set either header.
    hosts = {request.headers.get("host"), request.headers.get("x-forwarded-host")}
    return urlsplit(origin).netloc in hosts - {None}


async def read_form(request: Request) -> dict[str, str] | None:
    """An urlencoded form body (the only kind our forms send); None if it is not one."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return None
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return None
    except ClientDisconnect:
        return None
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        return None
    return dict(pairs)


def forbidden(pages: Pages) -> Response:
    return pages.render(
        "message.html",
        {
            "title": "Form expired",
            "message": "This form could not be accepted. Reload the page and try again.",
            "role": None,
        },
        403,
    )


def page(
    pages: Pages, sessions: Sessions, role: Role | None, handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that runs `handler` for a signed-in viewer of `role` (any role if None),
    and for a POST only with a same-origin form carrying the session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        gw: Gateway = request.app.state.gateway
        session = sessions.read(request.cookies.get(COOKIE))
        if session is None:
            return signed_out(request, ended=COOKIE in request.cookies)
        viewer = viewer_for(gw, sessions, session)
        if viewer is None:
            return signed_out(request, ended=True)
        if role is not None and session.role != role:
            return RedirectResponse(HOME[session.role], status_code=303)
        visit = Visit(request, gw, viewer, pages)
        if request.method == "POST":
            form = await read_form(request) if same_origin(request) else None
            if form is None or not sessions.csrf_ok(session, form.get("csrf")):
                return forbidden(pages)
            visit.form = form
        return await handler(visit)

    return endpoint
