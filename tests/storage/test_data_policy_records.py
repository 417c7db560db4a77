"""What the Privacy page reads about data policy (`Store.recent_data_policies`): the account's
newest rows only, newest first, with the requirement, its outcome (a real boolean, or NULL when
nothing was required) and the served policy as they were written — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from routeplex_gateway.storage import PolicyRecord, Store
from tests.storage.builders import metadata_record, unanswered_record

ACCOUNT = "acc_0000000000000001"
SERVED = "retention-days=30, training=no, region=global"


def _policy(record: object) -> PolicyRecord:
    return PolicyRecord(
        **{field: getattr(record, field) for field in PolicyRecord.__dataclass_fields__}
    )


async def test_recent_data_policies_are_the_accounts_newest_as_stored(store: Store) -> None:
    met = metadata_record(
        created_at=datetime(2024, 3, 10, 12, 0, tzinfo=UTC),
        provider="anthropic",
        served_model="claude-haiku-4-5",
        data_policy_required="no-training, region=global",
        data_policy_met=True,
        data_policy_served=SERVED,
    )
    refused = unanswered_record(
        created_at=datetime(2024, 3, 10, 12, 1, tzinfo=UTC),
        provider=None,
        http_status=403,
        error_code="forbidden_model",
        data_policy_required="zero-retention",
        data_policy_met=False,
    )
    unasked = metadata_record(
        created_at=datetime(2024, 3, 10, 12, 2, tzinfo=UTC), data_policy_served=SERVED
    )
    older = metadata_record(created_at=datetime(2024, 3, 9, tzinfo=UTC))
    other = metadata_record(account_id="acc_0000000000000002", data_policy_required="no-training")
    await store.insert_metadata([met, refused, unasked, older, other])

    recent = await store.recent_data_policies(ACCOUNT, 3)
    assert recent == [_policy(unasked), _policy(refused), _policy(met)]
    assert recent[0].data_policy_met is None and recent[0].data_policy_required is None
    assert recent[1].data_policy_met is False and recent[1].data_policy_served is None
    assert recent[2].data_policy_met is True and recent[2].created_at.tzinfo == UTC
    assert await store.recent_data_policies("acc_0000000000000002") == [_policy(other)]
    assert await store.recent_data_policies("acc_0000000000000003") == []
