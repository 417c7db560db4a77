"""The dashboard's routes under `/app`, served by the gateway itself: pages, sign-in and
sign-out, and the static files (styles, scripts, the vendored charting library), all behind
the dashboard's Content-Security-Policy.
"""

from __future__ import annotations

import logging
from functools import partial

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from ..config import Settings
from . import account_pages as account
from . import operator_pages as operator
from . import signin
from .access import Handler, page
from .csp import ContentSecurityPolicy
from .rendering import Pages
from .session import Role, Sessions

log = logging.getLogger(__name__)


class Dashboard:
    """One app's dashboard: its session signer and its templates."""

    def __init__(self, settings: Settings, *, simulated: bool = False) -> None:
        secret = settings.session_secret
        if secret is None and settings.redis_url:
            # Redis means several processes; each would sign with its own random secret.
            log.warning("ROUTEPLEX_SESSION_SECRET is unset: dashboard sessions will not carry")
        self.sessions = Sessions(
            secret.get_secret_value() if secret else None, settings.session_ttl_s
        )
        self.pages = Pages(simulated=simulated)

    def routes(self) -> list[BaseRoute]:
        pages, sessions = self.pages, self.sessions

        def get(path: str, role: Role | None, handler: Handler) -> Route:
            return Route(path, page(pages, sessions, role, handler), methods=["GET"])

        def post(path: str, role: Role | None, handler: Handler) -> Route:
            return Route(path, page(pages, sessions, role, handler), methods=["POST"])

        app_routes: list[BaseRoute] = [
            Route("/signin", partial(signin.signin_form, pages, sessions), methods=["GET"]),
            Route("/signin", partial(signin.signin, pages, sessions), methods=["POST"]),
            post("/signout", None, signin.signout),
            get("/", "account", account.overview),
            get("/usage", "account", account.usage),
            get("/usage.csv", "account", account.usage_csv),
            get("/keys", "account", account.keys),
            post("/keys", "account", account.create_key),
            get("/keys/{key_id}/revoke", "account", account.confirm_revoke),
            post("/keys/{key_id}/revoke", "account", account.revoke_key),
            get("/models", None, account.models),
            get("/privacy", "account", account.privacy),
            get("/operator/accounts", "operator", operator.accounts),
            post("/operator/accounts", "operator", operator.create_account),
            get("/operator/accounts/{account_id}", "operator", operator.account),
            post("/operator/accounts/{account_id}", "operator", operator.update_account),
            post("/operator/accounts/{account_id}/keys", "operator", operator.create_account_key),
            get("/operator/usage", "operator", operator.usage),
            get("/operator/health", "operator", operator.health),
            Mount(
                "/static",
                app=StaticFiles(packages=[("routeplex_gateway.dashboard", "static")]),
                name="static",
            ),
        ]
        router = Router(
            app_routes,
            default=self._not_found,
            middleware=[Middleware(ContentSecurityPolicy)],
        )
        return [Mount("/app", app=router)]

    async def _not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.pages.render(
            "message.html",
            {"role": None, "title": "Not found", "message": "There is no such page."},
            404,
        )
        await response(scope, receive, send)


def dashboard_routes(settings: Settings, *, simulated: bool = False) -> list[BaseRoute]:
    """The routes to add to the gateway's app (built once per app, at creation); `simulated`:
    answers come from the upstream simulator, and every page says so."""
    return Dashboard(settings, simulated=simulated).routes()
