"""Dashboard sessions: a signed, expiring token in an HTTP-only cookie, and the CSRF tokens
derived from it.

The token holds no key: only who signed in (an account holder or an operator), the id of the
key they signed in with, when the session ends, and a random nonce. It is signed (HMAC-SHA256
via itsdangerous) with `ROUTEPLEX_SESSION_SECRET`, so it needs no server-side state and works
on every replica that shares the secret. Without that setting each process draws a random
secret when it starts, and its sessions end when it restarts. Whether the key is still good is
not the token's business: every page checks the key id against the in-memory key cache, so a
revoked key ends its sessions. Nor is signing out: the nonce is the session's id, and a
signed-out one is refused everywhere (`signouts.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

Role = Literal["account", "operator"]

COOKIE = "routeplex_session"
# Carries the sign-in form's CSRF token until there is a session (double-submit cookie).
SIGNIN_COOKIE = "routeplex_signin"
COOKIE_PATH = "/app"
SIGNIN_TTL_S = 3600
_VERSION = 1
_SALT = "routeplex.dashboard.session"


@dataclass(frozen=True, slots=True)
class Session:
    role: Role
    key_id: str
    expires_at: int  # Unix time
    nonce: str


class Sessions:
    """Issues and checks session tokens and their CSRF tokens with one secret."""

    def __init__(self, secret: str | None, ttl_s: int) -> None:
        # No configured secret: one per process, drawn now (at app creation, not import).
        self._secret = secret.encode() if secret else secrets.token_bytes(32)
        self._serializer = URLSafeSerializer(
            self._secret, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self.ttl_s = ttl_s

    def issue(self, role: Role, key_id: str, *, now: float | None = None) -> tuple[Session, str]:
        """A new session and its cookie value."""
        issued = int(time.time() if now is None else now)
        session = Session(role, key_id, issued + self.ttl_s, secrets.token_urlsafe(16))
        token = self._serializer.dumps(
            {
                "v": _VERSION,
                "r": session.role,
                "k": session.key_id,
                "x": session.expires_at,
                "n": session.nonce,
            }
        )
        return session, token

    def read(self, token: str | None, *, now: float | None = None) -> Session | None:
        """The session a cookie value stands for; None if forged, malformed or expired."""
        if not token:
            return None
        try:
            payload = self._serializer.loads(token)
        except BadSignature:
            return None
        if not isinstance(payload, dict) or payload.get("v") != _VERSION:
            return None
        role, key_id, expires, nonce = (payload.get(k) for k in ("r", "k", "x", "n"))
        if (
            role not in ("account", "operator")
            or not isinstance(key_id, str)
            or not isinstance(expires, int)
            or not isinstance(nonce, str)
        ):
            return None
        if expires <= (time.time() if now is None else now):
            return None
        return Session(role, key_id, expires, nonce)

    def csrf_token(self, session: Session) -> str:
        """The session's form token: derived, so nothing is stored for it."""
        return self._mac(b"csrf:" + session.nonce.encode())

    def csrf_ok(self, session: Session, submitted: str | None) -> bool:
        return bool(submitted) and hmac.compare_digest(self.csrf_token(session), submitted or "")

    def _mac(self, message: bytes) -> str:
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


def secure(request: Request) -> bool:
    """Mark cookies Secure when the browser is talking TLS to us. Behind a terminating proxy
    this needs the proxy named in ROUTEPLEX_TRUSTED_PROXIES to see the https scheme."""
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str, ttl_s: int) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=ttl_s,
        path=COOKIE_PATH,
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )


def set_signin_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        SIGNIN_COOKIE,
        value,
        max_age=SIGNIN_TTL_S,
        path=COOKIE_PATH,
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    # Same attributes as when set, or the browser keeps the original.
    response.set_cookie(
        name,
        "",
        max_age=0,
        path=COOKIE_PATH,
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )
