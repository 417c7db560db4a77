"""The dashboard without a browser: the CSP header on every /app response, the session
cookie's flags (Secure only under https), a session ending when its key is revoked, CSRF and
origin checks on forms, and a cookie that carries no key material."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import httpx
import trustme

from routeplex_gateway.app import create_app
from routeplex_gateway.auth import hash_key
from routeplex_gateway.dashboard.csp import POLICY
from routeplex_gateway.dashboard.session import COOKIE, Sessions
from tests.conftest import RunningGateway, gateway_settings
from tests.dashboard.conftest import admin_key, csrf_of, sign_in
from tests.support.accounts import create_account_with_key, revoke_key_by_plaintext
from tests.support.servers import serve_in_thread
from tests.support.services import fresh_postgres_database
from tests.support.tcp_proxy import tcp_proxy

TWELVE_HOURS = 12 * 3600


def _set_cookie(response: httpx.Response, name: str) -> list[str]:
    """The attributes of the Set-Cookie header for `name`, lower-cased, value first."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return [part.strip() for part in header.split(";")]
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers}")


def _flags(parts: list[str]) -> set[str]:
    return {p.lower() for p in parts[1:]}


def test_every_app_response_sends_the_csp(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        # The link `routeplex serve` prints.
        assert client.get("/app").headers["location"].endswith("/app/")
        paths = ["/app/signin", "/app/", "/app/static/app.js", "/app/static/app.css"]
        paths += ["/app/static/vendor/chart.umd.min.js", "/app/no-such-page"]
        for path in paths:
            response = client.get(path)
            assert response.headers["content-security-policy"] == POLICY, path
        assert client.get("/app/no-such-page").status_code == 404
        assert sign_in(client, gateway.keys["alice"]).status_code == 303
        for path in ["/app/", "/app/usage", "/app/keys", "/app/models", "/app/privacy"]:
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-security-policy"] == POLICY, path
            assert response.headers["cache-control"] == "no-store", path
            assert response.headers["x-frame-options"] == "DENY", path
            assert "<script>" not in response.text, "no inline scripts"
        export = client.get("/app/usage.csv?days=30")
        assert export.headers["content-security-policy"] == POLICY
        assert export.headers["content-disposition"] == (
            'attachment; filename="routeplex-usage-30d.csv"'
        )
        assert export.text.splitlines()[0].startswith("day,model,requests,input_tokens,")
    for directive in ("default-src 'self'", "style-src 'self'", "img-src 'self' data:"):
        assert directive in POLICY
    assert "frame-ancestors 'none'" in POLICY and "form-action 'self'" in POLICY


def test_session_cookie_flags_over_http(gateway: RunningGateway) -> None:
    key = gateway.keys["alice"]
    with httpx.Client(base_url=gateway.url) as client:
        response = sign_in(client, key)
        assert response.status_code == 303 and response.headers["location"] == "/app/"
        parts = _set_cookie(response, COOKIE)
        flags = _flags(parts)
        assert {"httponly", "samesite=strict", "path=/app", f"max-age={TWELVE_HOURS}"} <= flags
        assert "secure" not in flags, "plain http: a Secure cookie would never come back"
        # What the cookie holds: the key's id and an expiry, signed; never the key or its hash.
        value = parts[0].split("=", 1)[1]
        assert key not in value and hash_key(key) not in value and key[8:] not in value
        payload_b64 = value.split(".")[0]
        payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
        assert set(payload) == {"v", "r", "k", "x", "n"}
        keys = httpx.get(
            f"{gateway.url}/api/v1/account/keys", headers={"Authorization": f"Bearer {key}"}
        ).json()["data"]
        assert payload["r"] == "account" and payload["k"] == keys[0]["id"]
        assert abs(payload["x"] - (time.time() + TWELVE_HOURS)) < 60
        # Signing out clears it with the same attributes.
        page = client.get("/app/")
        signed_out = client.post("/app/signout", data={"csrf": csrf_of(page.text)})
        assert signed_out.status_code == 303
        cleared = _flags(_set_cookie(signed_out, COOKIE))
        assert {"max-age=0", "path=/app", "httponly", "samesite=strict"} <= cleared
        assert client.get("/app/").headers["location"].startswith("/app/signin")


def test_session_cookie_is_secure_under_https(tmp_path: Path, simulator_url: str) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    settings = gateway_settings(tmp_path / "data")
    key = create_account_with_key(settings, "tls")
    app = create_app(settings, simulator_url=simulator_url)
    with (
        serve_in_thread(app, ssl_certfile=str(certfile), ssl_keyfile=str(keyfile)) as url,
        ca.cert_pem.tempfile() as ca_file,
        httpx.Client(base_url=url.replace("http://", "https://"), verify=ca_file) as client,
    ):
        signin_page = client.get("/app/signin")
        assert "secure" in _flags(_set_cookie(signin_page, "routeplex_signin"))
        response = client.post("/app/signin", data={"csrf": csrf_of(signin_page.text), "key": key})
        assert response.status_code == 303
        assert {"secure", "httponly", "samesite=strict"} <= _flags(_set_cookie(response, COOKIE))


def test_a_revoked_key_ends_its_sessions(gateway: RunningGateway) -> None:
    key = gateway.keys["alice"]
    with httpx.Client(base_url=gateway.url) as client:
        sign_in(client, key)
        assert client.get("/app/usage").status_code == 200
        stolen = client.cookies.get(COOKIE)
        # Revoked from another process: this one hears of it on its next key refresh.
        revoke_key_by_plaintext(gateway_settings(gateway.data_dir), key)
        deadline = time.monotonic() + 5
        while (response := client.get("/app/usage")).status_code == 200:
            assert time.monotonic() < deadline, "the session outlived its key"
            time.sleep(0.1)
        assert response.status_code == 303
        assert response.headers["location"] == "/app/signin?ended=1"
        assert "max-age=0" in _flags(_set_cookie(response, COOKIE))
    # The cookie itself is still validly signed and unexpired: it is the key check that
    # refuses it, on every page.
    replay = httpx.get(f"{gateway.url}/app/", cookies={COOKIE: stolen or ""})
    assert replay.status_code == 303 and replay.headers["location"].startswith("/app/signin")


def test_signing_out_ends_the_session_on_every_replica(tmp_path: Path, simulator_url: str) -> None:
    """Two gateways sharing a database and a session secret. Signing out through one refuses
    the cookie there at once and on the other within its key refresh (0.5 s here)."""
    settings = gateway_settings(tmp_path, session_secret="shared-between-replicas")
    key = create_account_with_key(settings, "alice")
    with (
        serve_in_thread(create_app(settings, simulator_url=simulator_url)) as here,
        serve_in_thread(create_app(settings, simulator_url=simulator_url)) as elsewhere,
        httpx.Client(base_url=here) as client,
    ):
        sign_in(client, key)
        page = client.get("/app/usage")
        assert page.status_code == 200
        copied = {COOKIE: client.cookies.get(COOKIE) or ""}
        assert httpx.get(f"{elsewhere}/app/usage", cookies=copied).status_code == 200

        assert client.post("/app/signout", data={"csrf": csrf_of(page.text)}).status_code == 303
        signed_out_at = time.monotonic()
        replay = httpx.get(f"{here}/app/usage", cookies=copied)
        assert replay.status_code == 303
        assert replay.headers["location"] == "/app/signin?ended=1"
        while (response := httpx.get(f"{elsewhere}/app/usage", cookies=copied)).status_code == 200:
            assert time.monotonic() - signed_out_at < 0.5 + 1.0, "still signed in elsewhere"
            time.sleep(0.05)
        assert response.status_code == 303
        # Signing in again is a new session, unaffected.
        sign_in(client, key)
        assert client.get("/app/usage").status_code == 200


def test_a_sign_out_while_the_database_is_away_still_ends_the_session_everywhere(
    tmp_path: Path, simulator_url: str
) -> None:
    """The process that signs out refuses the session at once even when it cannot store the
    revocation; once the database is back it stores it, and the other replica refuses too."""
    with fresh_postgres_database() as database_url, tcp_proxy(5432) as proxy:
        shared = {"session_secret": "shared-between-replicas", "single_instance": True}
        via_proxy = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        cut_off = gateway_settings(tmp_path / "a", database_url=via_proxy, **shared)
        direct = gateway_settings(tmp_path / "b", database_url=database_url, **shared)
        key = create_account_with_key(direct, "alice")
        with (
            serve_in_thread(create_app(cut_off, simulator_url=simulator_url)) as here,
            serve_in_thread(create_app(direct, simulator_url=simulator_url)) as elsewhere,
            httpx.Client(base_url=here) as client,
        ):
            sign_in(client, key)
            page = client.get("/app/usage")
            copied = {COOKIE: client.cookies.get(COOKIE) or ""}
            proxy.cut()
            signed_out = client.post("/app/signout", data={"csrf": csrf_of(page.text)})
            assert signed_out.status_code == 303
            assert httpx.get(f"{here}/app/usage", cookies=copied).status_code == 303
            assert httpx.get(f"{elsewhere}/app/usage", cookies=copied).status_code == 200

            proxy.restore()
            deadline = time.monotonic() + 10
            while httpx.get(f"{elsewhere}/app/usage", cookies=copied).status_code == 200:
                assert time.monotonic() < deadline, "the revocation was never stored"
                time.sleep(0.1)


def test_forms_need_the_session_csrf_token_and_our_origin(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        # The sign-in form's own token (double-submit cookie): missing or wrong is refused.
        client.get("/app/signin")
        bad = client.post("/app/signin", data={"csrf": "x", "key": gateway.keys["alice"]})
        assert bad.status_code == 403
        sign_in(client, gateway.keys["alice"])
        token = csrf_of(client.get("/app/keys").text)
        assert client.post("/app/keys", data={"name": "a"}).status_code == 403
        assert client.post("/app/keys", data={"name": "a", "csrf": "0" * 64}).status_code == 403
        foreign = {"Origin": "http://evil.example"}
        assert (
            client.post("/app/keys", data={"name": "a", "csrf": token}, headers=foreign)
        ).status_code == 403
        cross_site = {"Sec-Fetch-Site": "cross-site"}
        assert (
            client.post("/app/keys", data={"name": "a", "csrf": token}, headers=cross_site)
        ).status_code == 403
        created = client.post("/app/keys", data={"name": "from-form", "csrf": token})
        assert created.status_code == 200 and "rp_live_" in created.text


def test_a_wrong_key_is_refused_and_never_echoed(gateway: RunningGateway) -> None:
    wrong = "rp_live_" + "x" * 43
    with httpx.Client(base_url=gateway.url) as client:
        response = sign_in(client, wrong)
        assert response.status_code == 401
        assert wrong not in response.text and COOKIE not in response.cookies
        assert client.get("/app/").status_code == 303


def test_roles_see_only_their_own_pages(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway.url) as user:
        sign_in(user, gateway.keys["alice"])
        assert user.get("/app/operator/accounts").headers["location"] == "/app/"
        assert user.get("/app/models").status_code == 200
    with httpx.Client(base_url=gateway.url) as operator:
        assert sign_in(operator, admin_key(gateway)).headers["location"] == (
            "/app/operator/accounts"
        )
        assert operator.get("/app/keys").headers["location"] == "/app/operator/accounts"
        page = operator.get("/app/operator/accounts")
        assert page.status_code == 200 and "alice" in page.text


def test_session_tokens_are_signed_and_expire() -> None:
    sessions = Sessions("a-configured-secret", ttl_s=60)
    session, token = sessions.issue("account", "key_1", now=1_000)
    assert sessions.read(token, now=1_059) == session
    assert sessions.read(token, now=1_060) is None, "expired"
    assert Sessions("another-secret", ttl_s=60).read(token, now=1_000) is None
    payload, signature = token.split(".")
    assert sessions.read(payload + "." + signature[::-1], now=1_000) is None
    forged = base64.urlsafe_b64encode(b'{"v":1,"r":"operator","k":"key_1","x":9999,"n":"a"}')
    assert sessions.read(forged.decode().rstrip("=") + "." + signature, now=1_000) is None
    # Same configured secret, another process (a replica): the session carries over.
    assert Sessions("a-configured-secret", ttl_s=60).read(token, now=1_000) == session
    # Unset secret: random per process, so another process does not accept it.
    first, second = Sessions(None, ttl_s=60), Sessions(None, ttl_s=60)
    assert second.read(first.issue("account", "k")[1]) is None
    assert sessions.csrf_ok(session, sessions.csrf_token(session))
    assert not sessions.csrf_ok(session, "") and not sessions.csrf_ok(session, None)


SIMULATED_BANNER = "Simulated providers"


def test_pages_say_when_answers_are_simulated(
    gateway: RunningGateway, tmp_path: Path, simulator_url: str
) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        assert SIMULATED_BANNER in client.get("/app/signin").text
        assert sign_in(client, gateway.keys["alice"]).status_code == 303
        for path in ["/app/", "/app/usage", "/app/keys"]:
            assert SIMULATED_BANNER in client.get(path).text, path
    # The same simulator configured as a real OpenAI-compatible provider: no banner.
    data_dir = tmp_path / "real"
    data_dir.mkdir()
    settings = gateway_settings(
        data_dir, openai_api_key="sk-real", openai_base_url=f"{simulator_url}/v1"
    )
    with serve_in_thread(create_app(settings)) as url:
        page = httpx.get(f"{url}/app/signin")
        assert page.status_code == 200 and SIMULATED_BANNER not in page.text
