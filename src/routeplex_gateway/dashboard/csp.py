"""The Content-Security-Policy of every `/app` response: the pages may load scripts, styles,
images and data from this gateway only — no CDN, font or analytics host — run no inline
script, and may not be framed. The policy is what keeps the promise "the dashboard talks
to nobody else"; the browser tests check that no request leaves and nothing is refused.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
_STATIC_PREFIX = "/app/static/"


class ContentSecurityPolicy:
    """Pure ASGI: adds the policy header to each response of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith(_STATIC_PREFIX)

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", [])]
                headers.append((b"content-security-policy", POLICY.encode()))
                # Instead of the gateway-wide no-referrer, under which a browser sends
                # `Origin: null` with our own form posts; there is no other host to leak to.
                headers.append((b"referrer-policy", b"same-origin"))
                if static:
                    # Revalidate (ETag → 304) rather than the gateway-wide no-store: the
                    # charting library is 200 kB and does not change between pages.
                    headers.append((b"cache-control", b"no-cache"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_policy)
