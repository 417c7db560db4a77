"""`routeplex keys` (accounts' API keys) and `routeplex admin` (operators' admin keys)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from ..api.data_requirement import requirement_view, stored_requirement
from ..config import load_settings
from ..server import (
    with_store,
)
from ..storage import Store
from .data_policy import (
    ClearOption,
    Flags,
    NoTrainingOption,
    RegionsOption,
    ZeroRetentionOption,
    described,
)
from .options import ConfigOption, JsonOption, console, find_account_id, refuse, run, show

keys_app = typer.Typer(
    help="Manage API keys (shown once, stored only as a hash).", no_args_is_help=True
)
admin_app = typer.Typer(help="Manage operators' admin keys.", no_args_is_help=True)


# --- keys ----------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    account: Annotated[str, typer.Option("--account", help="Account name.")],
    name: Annotated[str | None, typer.Option("--name", help="A name for the key.")] = None,
    expires_in: Annotated[
        int | None, typer.Option("--expires-in", help="Days until expiry.", min=1)
    ] = None,
    models: Annotated[str | None, typer.Option(help="Comma-separated allowed models.")] = None,
    require_zero_retention: ZeroRetentionOption = False,
    no_training: NoTrainingOption = False,
    regions: RegionsOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key. The key is printed once and stored only as a hash. Its data-policy
    requirement, if any, narrows its account's."""
    from ..auth import issue_key

    settings = load_settings(config)
    allowed = [m.strip() for m in models.split(",") if m.strip()] if models else None
    own = Flags(require_zero_retention, no_training, regions).applied_to(None).label() or None

    async def create(store: Store) -> tuple[str, Any]:
        account_id = await find_account_id(store, account)
        return await issue_key(
            store,
            account_id,
            name=name,
            expires_in_days=expires_in,
            allowed_models=allowed,
            data_policy=own,
        )

    plaintext, record = run(lambda: with_store(settings, create))
    if as_json:
        print(
            json.dumps(
                {
                    "key": plaintext,
                    "id": record.id,
                    "account": account,
                    "name": record.name,
                    "expires_at": _iso(record.expires_at),
                    "data_policy": requirement_view(record.data_policy),
                }
            )
        )
        return
    console.print(f"Created key {record.id} for {account}. It is shown only now:\n")
    console.print(f"  [bold]{plaintext}[/]\n", highlight=False)
    if own:
        console.print(f"Its data policy: {own} (combined with the account's).", highlight=False)


@keys_app.command("update")
def keys_update(
    key_id: str,
    account: Annotated[str, typer.Option("--account", help="The key's account name.")],
    require_zero_retention: ZeroRetentionOption = False,
    no_training: NoTrainingOption = False,
    regions: RegionsOption = None,
    clear_data_policy: ClearOption = False,
    config: ConfigOption = None,
) -> None:
    """Change a key's own data-policy requirement, which narrows its account's. Running
    gateways apply it within ROUTEPLEX_KEY_REFRESH_S."""
    settings = load_settings(config)
    flags = Flags(require_zero_retention, no_training, regions, clear_data_policy)
    if not flags.given:
        refuse(
            "Nothing to change: give --require-zero-retention, --no-training, --regions or "
            "--clear-data-policy.",
            2,
        )

    async def update(store: Store) -> tuple[str | None, str | None]:
        account_id = await find_account_id(store, account)
        found = await store.get_account(account_id)
        key = next((k for k in await store.list_keys(account_id) if k.id == key_id), None)
        if key is None or found is None:
            refuse(f"No key {key_id!r} in account {account!r}.")
        label = flags.applied_to(key.data_policy).label() or None
        if not await store.set_key_data_policy(key_id, label, account_id=account_id):
            refuse(f"No key {key_id!r} in account {account!r}.")
        return label, found.data_policy

    own, of_account = run(lambda: with_store(settings, update))
    combined = stored_requirement(of_account).narrow(stored_requirement(own))
    console.print(
        f"Updated {key_id}: data policy {described(own)}; with {account}'s "
        f"({described(of_account)}), its requests require {described(combined)}.",
        highlight=False,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@keys_app.command("list")
def keys_list(
    account: Annotated[str, typer.Option("--account", help="Account name.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List an account's keys (never the keys themselves)."""
    settings = load_settings(config)

    async def fetch(store: Store) -> list[Any]:
        return await store.list_keys(await find_account_id(store, account))

    keys = run(lambda: with_store(settings, fetch))
    now = datetime.now(UTC)
    rows = [
        {
            "id": k.id,
            "name": k.name,
            "key": f"{k.display_prefix}…{k.last4}",
            "created_at": _iso(k.created_at),
            "expires_at": _iso(k.expires_at),
            "data_policy": requirement_view(k.data_policy),
            "status": "revoked"
            if k.revoked_at
            else ("expired" if k.expires_at and k.expires_at <= now else "active"),
        }
        for k in keys
    ]
    if as_json:
        print(json.dumps(rows))
        return
    labels = {k.id: described(k.data_policy) for k in keys}
    table = Table("id", "name", "key", "created", "expires", "data policy", "status")
    for r in rows:
        table.add_row(
            r["id"],
            r["name"] or "",
            r["key"],
            (r["created_at"] or "")[:10],
            (r["expires_at"] or "")[:10],
            labels[r["id"]],
            r["status"],
        )
    show(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, config: ConfigOption = None) -> None:
    """Revoke a key by id. Running gateways stop accepting it within ROUTEPLEX_KEY_REFRESH_S."""
    settings = load_settings(config)
    revoked = run(lambda: with_store(settings, lambda s: s.revoke_key(key_id)))
    if not revoked:
        refuse(f"No active key {key_id!r}.")
    console.print(f"Revoked {key_id}.")


# --- admin keys ----------------------------------------------------------------------------
@admin_app.command("create-key")
def admin_create_key(
    name: Annotated[str | None, typer.Option("--name", help="A name for the key.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an admin key for /admin and the dashboard. Printed once, stored as a hash."""
    from ..auth import issue_admin_key

    settings = load_settings(config)
    plaintext, record = run(lambda: with_store(settings, lambda s: issue_admin_key(s, name=name)))
    if as_json:
        print(json.dumps({"key": plaintext, "id": record.id, "name": record.name}))
        return
    console.print(f"Created admin key {record.id}. It is shown only now:\n")
    console.print(f"  [bold]{plaintext}[/]\n", highlight=False)


@admin_app.command("list-keys")
def admin_list_keys(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List admin keys (never the keys themselves)."""
    settings = load_settings(config)
    keys = run(lambda: with_store(settings, lambda s: s.list_admin_keys()))
    rows: list[dict[str, Any]] = [
        {
            "id": k.id,
            "name": k.name,
            "key": f"{k.display_prefix}…{k.last4}",
            "created_at": _iso(k.created_at),
            "revoked": k.revoked_at is not None,
        }
        for k in keys
    ]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("id", "name", "key", "created", "revoked")
    for r in rows:
        table.add_row(
            r["id"],
            r["name"] or "",
            r["key"],
            (r["created_at"] or "")[:10],
            "yes" if r["revoked"] else "",
        )
    show(table)


@admin_app.command("revoke-key")
def admin_revoke_key(key_id: str, config: ConfigOption = None) -> None:
    """Revoke an admin key."""
    settings = load_settings(config)
    if not run(lambda: with_store(settings, lambda s: s.revoke_admin_key(key_id))):
        refuse(f"No active admin key {key_id!r}.")
    console.print(f"Revoked {key_id}.")
