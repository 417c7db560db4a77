"""Whose address a request is counted against: the peer's, unless the peer is a proxy named in
ROUTEPLEX_TRUSTED_PROXIES — and the failed-key throttle slows guessing without locking out an
address a valid key is sent from. Raw HTTP to `routeplex serve` over real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from routeplex_gateway.config import Settings
from tests.support.raw_http import Reply, Served, request, routeplex_serve

BAD = "rp_live_" + "x" * 43
BODY = b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}'
# Enough failures to trip the throttle (30 a minute) from a fresh address, with room to spare.
ATTEMPTS = 40


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A gateway with no trusted proxy (the default)."""
    with routeplex_serve(tmp_path_factory.mktemp("direct")) as served:
        yield served


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A gateway behind a proxy on loopback, named by CIDR."""
    data = tmp_path_factory.mktemp("proxied")
    with routeplex_serve(data, {"ROUTEPLEX_TRUSTED_PROXIES": "10.9.8.7, 127.0.0.0/8"}) as served:
        yield served


def chat(served: Served, key: str, forwarded_for: str | None = None) -> Reply:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    return request(served.port, "POST", "/v1/chat/completions", headers, BODY)


def until_throttled(served: Served, forwarded_for: str | None = None) -> Reply:
    """Bad keys until the throttle refuses; its refusal (the test fails if it never does)."""
    for _ in range(ATTEMPTS):
        reply = chat(served, BAD, forwarded_for)
        if reply.status != 401:
            return reply
    pytest.fail(f"{ATTEMPTS} bad keys were never throttled")


def assert_throttle_refusal(reply: Reply) -> None:
    assert reply.status == 429, reply
    assert int(reply.headers["retry-after"]) >= 1
    error = reply.json()["error"]
    assert isinstance(error, dict)  # the OpenAI envelope, on /v1
    assert error["code"] == "rate_limited" and error["type"] == "rate_limit_error"


def test_rotating_forwarded_for_from_an_untrusted_peer_is_still_throttled(
    direct: Served,
) -> None:
    replies = [chat(direct, BAD, f"198.51.100.{i}") for i in range(ATTEMPTS)]
    assert_throttle_refusal(replies[-1])
    assert [r.status for r in replies].count(401) <= 30


def test_a_valid_key_from_a_throttled_address_is_served(direct: Served) -> None:
    assert_throttle_refusal(until_throttled(direct))
    # Keys carry 256 random bits: the throttle slows guessing, it does not lock out whoever
    # shares the address (a NAT, an office) with the guesser.
    assert chat(direct, direct.key).status == 200
    # The address is still throttled for bad keys.
    assert_throttle_refusal(chat(direct, BAD))
    native = request(direct.port, "GET", "/api/v1/account", {"Authorization": f"Bearer {BAD}"})
    assert native.status == 429 and native.json()["success"] is False
    assert native.code() == "rate_limited"


def test_a_spoofed_victim_address_does_not_lock_the_victim_out(direct: Served) -> None:
    # Without a trusted proxy, X-Forwarded-For is not the caller's address: bad keys
    # "from" 192.0.2.1 count against the peer that sent them.
    for _ in range(ATTEMPTS):
        chat(direct, BAD, "192.0.2.1")
    assert chat(direct, direct.key, "192.0.2.1").status == 200


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(proxied: Served) -> None:
    assert_throttle_refusal(until_throttled(proxied, "203.0.113.7"))
    # Another client behind the same proxy, and the proxy's own address, are not throttled.
    assert chat(proxied, BAD, "203.0.113.8").status == 401
    assert chat(proxied, BAD).status == 401
    # The address a trusted proxy appended is used, not what the client put before it.
    assert chat(proxied, BAD, "203.0.113.8, 203.0.113.7").status == 429
    # And a valid key from the throttled client is still served.
    assert chat(proxied, proxied.key, "203.0.113.7").status == 200


def test_trusted_proxies_are_addresses_or_networks(tmp_path: Path) -> None:
    # Normalised as uvicorn needs them: a network written with host bits set would otherwise
    # never match anything, silently.
    settings = Settings(data_dir=tmp_path, trusted_proxies=" 10.1.2.3/8, ::1 ,192.0.2.9")
    assert settings.trusted_proxies == "10.0.0.0/8,::1/128,192.0.2.9/32"
    assert Settings(data_dir=tmp_path).trusted_proxies == ""
