"""Usage per surface (the API a request came in by), from request metadata, on both backends."""

from __future__ import annotations

from datetime import timedelta

from routeplex_gateway.metering.record import Endpoint
from routeplex_gateway.storage import Store, SurfaceUsage
from tests.storage.builders import (
    ACME,
    DAY,
    NEW_YORK,
    NEXT_DAY,
    OTHER,
    at,
    metadata_record,
    unanswered_record,
)


def _surface(endpoint: Endpoint, **counts: int) -> SurfaceUsage:
    fields = dict.fromkeys(
        (
            "requests",
            "input_tokens",
            "output_tokens",
            "cost_picousd",
            "unknown_cost_requests",
            "refused_requests",
        ),
        0,
    )
    fields.update(counts)
    return SurfaceUsage(endpoint=str(endpoint), **fields)


async def _three_surfaces(store: Store) -> None:
    anthropic, native = Endpoint.ANTHROPIC_MESSAGES, Endpoint.NATIVE_CHAT
    await store.insert_metadata(
        [
            # OpenAI Chat Completions: two priced requests, one of them an hour before
            # midnight UTC in New York's evening of the day before (so before DAY in UTC).
            metadata_record(account_id=ACME, created_at=at(DAY, 9), cost_picousd=1_000),
            metadata_record(
                account_id=ACME,
                created_at=at(DAY, 10),
                input_tokens=5,
                output_tokens=None,  # unknown: adds nothing, the known input still counts
                cost_picousd=2_000,
            ),
            metadata_record(
                account_id=ACME,
                created_at=at(DAY - timedelta(days=1), 18, 0, NEW_YORK),  # 23:00 UTC
                cost_picousd=999_999,
            ),
            # Anthropic Messages: priced, answered without a known price, refused, and failed
            # before any byte (neither refused nor unpriced).
            metadata_record(
                account_id=ACME,
                created_at=at(DAY, 19, 30, NEW_YORK),  # 00:30 UTC on NEXT_DAY
                endpoint=anthropic,
                served_model="claude-sonnet-4-20250514",
                input_tokens=300,
                output_tokens=40,
                cost_picousd=7_000,
            ),
            metadata_record(
                account_id=ACME,
                created_at=at(DAY, 11),
                endpoint=anthropic,
                input_tokens=10,
                output_tokens=2,
                cost_picousd=None,
            ),
            unanswered_record(
                account_id=ACME,
                created_at=at(DAY, 12),
                endpoint=anthropic,
                provider=None,
                attempts=0,
                http_status=400,
                error_code="validation_error",
            ),
            unanswered_record(
                account_id=ACME,
                created_at=at(DAY, 13),
                endpoint=anthropic,
                http_status=502,
                error_code="provider_error",
            ),
            # Native API: only a request answered without a known price.
            metadata_record(
                account_id=ACME,
                created_at=at(NEXT_DAY, 2),
                endpoint=native,
                input_tokens=1,
                output_tokens=1,
                cost_picousd=None,
            ),
            # Another account's.
            metadata_record(account_id=OTHER, created_at=at(DAY, 9), endpoint=native),
        ]
    )


async def test_usage_per_surface_of_an_account(store: Store) -> None:
    await _three_surfaces(store)

    found = await store.usage_by_surface(account_id=ACME, since=DAY)

    assert found == [
        _surface(
            Endpoint.ANTHROPIC_MESSAGES,
            requests=4,
            input_tokens=310,
            output_tokens=42,
            cost_picousd=7_000,
            unknown_cost_requests=1,
            refused_requests=1,
        ),
        # No request of it had a known price: the known sum is 0 and the count says why.
        _surface(
            Endpoint.NATIVE_CHAT,
            requests=1,
            input_tokens=1,
            output_tokens=1,
            unknown_cost_requests=1,
        ),
        _surface(
            Endpoint.OPENAI_CHAT,
            requests=2,
            input_tokens=105,
            output_tokens=20,
            cost_picousd=3_000,
        ),
    ]


async def test_usage_per_surface_of_every_account_and_since(store: Store) -> None:
    await _three_surfaces(store)

    everyone = await store.usage_by_surface(account_id=None, since=DAY)
    assert [(row.endpoint, row.requests) for row in everyone] == [
        ("anthropic.messages", 4),
        ("native.chat", 2),
        ("openai.chat_completions", 2),
    ]
    # From the UTC day on: the request of 00:30 UTC on NEXT_DAY, and the native one.
    later = await store.usage_by_surface(account_id=ACME, since=NEXT_DAY)
    assert [(row.endpoint, row.requests, row.cost_picousd) for row in later] == [
        ("anthropic.messages", 1, 7_000),
        ("native.chat", 1, 0),
    ]
    earlier = await store.usage_by_surface(account_id=ACME, since=DAY - timedelta(days=1))
    assert [(row.endpoint, row.requests) for row in earlier][-1] == ("openai.chat_completions", 3)
    assert await store.usage_by_surface(account_id="acc_nobody", since=DAY) == []


async def test_the_surfaces_add_up_to_the_usage_rows(traffic: Store) -> None:
    rows = await traffic.usage(account_id=None, since=DAY)
    surfaces = await traffic.usage_by_surface(account_id=None, since=DAY)

    for field in ("requests", "input_tokens", "output_tokens", "cost_picousd"):
        assert sum(getattr(s, field) for s in surfaces) == sum(getattr(r, field) for r in rows)
    for field in ("unknown_cost_requests", "refused_requests"):
        assert sum(getattr(s, field) for s in surfaces) == sum(getattr(r, field) or 0 for r in rows)
