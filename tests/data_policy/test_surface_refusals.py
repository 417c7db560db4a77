"""Refusals on every surface, each in its own envelope and before any provider is asked: for
the data policy (403 `forbidden_model`, the unmet conditions named) and for a requirement
that cannot be read (400, never 500); and one metadata row a request saying what was
required, whether it held and what served, in labels the privacy audit accepts."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.data_policy.conftest import HEADER, LABELS, PROMPT, PolicyGateway

EU = "region=eu"
STRICT = "zero-retention, no-training"


Post = Callable[[PolicyGateway, str, dict[str, str]], httpx.Response]


def _openai_chat(gw: PolicyGateway, key: str, headers: dict[str, str]) -> httpx.Response:
    return gw.http.post(
        f"{gw.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}", **headers},
        json={"model": "pol-mixed", "messages": PROMPT},
        timeout=30,
    )


def _responses(gw: PolicyGateway, key: str, headers: dict[str, str]) -> httpx.Response:
    return gw.http.post(
        f"{gw.url}/v1/responses",
        headers={"Authorization": f"Bearer {key}", **headers},
        json={"model": "gpt-4o-mini", "input": "hello canary"},
        timeout=30,
    )


def _embeddings(gw: PolicyGateway, key: str, headers: dict[str, str]) -> httpx.Response:
    return gw.http.post(
        f"{gw.url}/v1/embeddings",
        headers={"Authorization": f"Bearer {key}", **headers},
        json={"model": "text-embedding-3-small", "input": "the canary sings"},
        timeout=30,
    )


def _messages(gw: PolicyGateway, key: str, headers: dict[str, str]) -> httpx.Response:
    return gw.http.post(
        f"{gw.url}/v1/messages",
        headers={"x-api-key": key, "anthropic-version": "2023-06-01", **headers},
        json={"model": "claude-haiku-4-5", "max_tokens": 32, "messages": PROMPT},
        timeout=30,
    )


def _count_tokens(gw: PolicyGateway, key: str, headers: dict[str, str]) -> httpx.Response:
    return gw.http.post(
        f"{gw.url}/v1/messages/count_tokens",
        headers={"x-api-key": key, "anthropic-version": "2023-06-01", **headers},
        json={"model": "claude-haiku-4-5", "messages": PROMPT},
        timeout=30,
    )


def _native(gw: PolicyGateway, key: str, headers: dict[str, str]) -> httpx.Response:
    return gw.http.post(
        f"{gw.url}/api/v1/chat",
        headers={"Authorization": f"Bearer {key}", **headers},
        json={"model": "pol-mixed", "messages": PROMPT},
        timeout=30,
    )


def _native_stream(gw: PolicyGateway, key: str, headers: dict[str, str]) -> httpx.Response:
    return gw.http.post(
        f"{gw.url}/api/v1/chat",
        headers={"Authorization": f"Bearer {key}", **headers},
        json={"model": "pol-mixed", "messages": PROMPT, "stream": True},
        timeout=30,
    )


OPENAI_SURFACES = {"chat": _openai_chat, "responses": _responses, "embeddings": _embeddings}
SURFACES: dict[str, Post] = {
    **OPENAI_SURFACES,
    "messages": _messages,
    "native": _native,
    "native-stream": _native_stream,
}


def refusal(reply: httpx.Response, surface: str) -> tuple[str, str]:
    """(code or type, message) of a refusal, checked to be in `surface`'s envelope."""
    body = reply.json()
    if surface in OPENAI_SURFACES:
        assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
        return body["error"]["code"], body["error"]["message"]
    if surface in ("messages", "count_tokens"):
        assert body["type"] == "error" and body["request_id"] == reply.headers["request-id"]
        return body["error"]["type"], body["error"]["message"]
    assert body["success"] is False
    return body["error"]["code"], body["error"]["message"]


@pytest.mark.parametrize("surface", list(SURFACES))
def test_no_compliant_deployment_is_403_in_each_envelope(
    policy_gw: PolicyGateway, surface: str
) -> None:
    key = policy_gw.account("surfaces")
    policy_gw.upstream()
    reply = SURFACES[surface](policy_gw, key, {HEADER: "zero-retention, region=jp"})
    assert reply.status_code == 403, reply.text
    code, message = refusal(reply, surface)
    assert code == ("permission_error" if surface == "messages" else "forbidden_model")
    assert "zero-retention" in message and "region=jp" in message
    if surface.startswith("native"):
        details = reply.json()["error"]["details"]
        assert details["reason"] == "data_policy"
        assert details["required"] == "zero-retention, region=jp"
        assert set(details["unmet"]) == {"zero-retention", "region=jp"}
    assert HEADER not in reply.headers
    assert policy_gw.sent() == []
    row = policy_gw.row(reply.headers["X-Request-Id"])
    assert row["http_status"] == 403 and row["data_policy_met"] == 0
    assert row["data_policy_required"] == "zero-retention, region=jp"


BAD_HEADERS: dict[str, str | bytes] = {
    "unknown word": "zero-retention, cheap",
    "bad region": "region=e",
    "region with a space": "region=eu west",
    "too long": ", ".join(["no-training"] * 90),  # 1258 characters
    "non-ASCII word": "région=eu".encode(),
    "non-ASCII region": "region=eü".encode(),
    "latin-1": "zero-retention, region=\xe9u".encode("latin-1"),
}


# Every unreadable value on one surface; two of them on each of the others.
UNREADABLE = [("chat", value) for value in BAD_HEADERS] + [
    (surface, value)
    for surface in [*SURFACES, "count_tokens"]
    if surface != "chat"
    for value in ("unknown word", "non-ASCII word")
]


@pytest.mark.parametrize(("surface", "value"), UNREADABLE)
def test_an_unreadable_requirement_is_400_in_each_envelope(
    policy_gw: PolicyGateway, surface: str, value: str
) -> None:
    key = policy_gw.account("surfaces")
    policy_gw.upstream()
    post = SURFACES.get(surface, _count_tokens)
    reply = post(policy_gw, key, {HEADER: BAD_HEADERS[value]})  # type: ignore[dict-item]
    assert reply.status_code == 400, reply.text
    code, message = refusal(reply, surface)
    assert code == (
        "invalid_request_error" if surface in ("messages", "count_tokens") else ("validation_error")
    )
    assert message.startswith("X-RoutePlex-Data-Policy: ")
    assert policy_gw.sent() == []


def test_one_row_a_request_saying_what_was_required_met_and_served(
    policy_gw: PolicyGateway,
) -> None:
    key = policy_gw.account("rows")
    asked: list[tuple[httpx.Response, str | None, int | None, str | None]] = []

    def expect(reply: httpx.Response, required: str | None, met: int | None, served: str | None):
        asked.append((reply, required, met, served))

    expect(_openai_chat(policy_gw, key, {HEADER: STRICT}), STRICT, 1, None)
    expect(_native(policy_gw, key, {HEADER: "region=jp"}), "region=jp", 0, None)
    expect(_messages(policy_gw, key, {HEADER: EU}), EU, 1, LABELS["anthropic-eu"])
    expect(_embeddings(policy_gw, key, {HEADER: STRICT}), STRICT, 1, LABELS["eu-zdr"])
    expect(_responses(policy_gw, key, {HEADER: "zero-retention"}), "zero-retention", 0, None)
    expect(_openai_chat(policy_gw, key, {}), None, None, None)
    expect(_openai_chat(policy_gw, key, {HEADER: "region=e"}), None, None, None)
    _count_tokens(policy_gw, key, {HEADER: EU})  # free: no row
    first = policy_gw.row(asked[0][0].headers["X-Request-Id"])
    for reply, required, met, served in asked:
        row = policy_gw.row(reply.headers["X-Request-Id"])
        assert row["data_policy_required"] == required
        assert row["data_policy_met"] == met
        if reply.status_code == 200:
            assert row["data_policy_served"] == reply.headers[HEADER]
            assert served is None or row["data_policy_served"] == served
        else:
            assert row["data_policy_served"] is None and HEADER not in reply.headers
    rows = policy_gw.rows(
        "SELECT request_id FROM request_metadata WHERE account_id = ?", first["account_id"]
    )
    assert len(rows) == len(asked)


def test_the_privacy_audit_reads_every_stored_label_as_one(policy_gw: PolicyGateway) -> None:
    """Requirements (an account's, a key's, a header's), outcomes and served policies as
    stored are labels of the closed vocabulary `routeplex privacy-audit` accepts: nothing in
    them reads as free text."""
    from routeplex_gateway.privacy import audit
    from tests.conftest import gateway_settings
    from tests.data_policy.conftest import in_thread

    key = policy_gw.account("audited", account_policy="zero-retention", key_policy="region=eu")
    plain = policy_gw.account("surfaces")
    replies = [
        _openai_chat(policy_gw, key, {HEADER: "no-training"}),
        _messages(policy_gw, plain, {HEADER: EU}),
        _native(policy_gw, plain, {HEADER: "region=jp, zero-retention"}),
    ]
    rows = [policy_gw.row(reply.headers["X-Request-Id"]) for reply in replies]
    assert [r["data_policy_required"] for r in rows] == [
        "zero-retention, no-training, region=eu",
        EU,
        "zero-retention, region=jp",
    ]
    assert [r["data_policy_served"] for r in rows] == [
        LABELS["eu-zdr"],
        LABELS["anthropic-eu"],
        None,
    ]
    report = in_thread(lambda: audit(gateway_settings(policy_gw.data_dir)))
    assert report.rows > 0 and report.findings == []
