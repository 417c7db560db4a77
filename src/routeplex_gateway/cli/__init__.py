"""The `routeplex` command: serve, simulate, migrate, accounts, keys, usage (its own module)."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..api.data_requirement import requirement_view
from ..banner import Commands, program
from ..config import deployment_problem, load_settings
from ..config_problems import ConfigError
from ..server import (
    CannotListen,
    disable_core_dumps,
    serve_one,
    serve_workers,
    with_store,
)
from ..storage import AccountExists, InvalidAccountName, Store
from .data_policy import (
    ClearOption,
    Flags,
    NoTrainingOption,
    RegionsOption,
    ZeroRetentionOption,
    described,
)
from .keys import admin_app, keys_app
from .options import (
    ConfigOption,
    JsonOption,
    check_plan,
    complain,
    console,
    find_account_id,
    refuse,
    run,
    show,
)
from .usage import usage

app = typer.Typer(help="RoutePlex: a privacy-first AI gateway.", no_args_is_help=True)
accounts_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
app.add_typer(admin_app, name="admin")


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where the SQLite file lives.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (needs Redis).", min=1)] = 1,
    ssl_certfile: Annotated[
        Path | None, typer.Option(help="Serve HTTPS with this certificate (PEM).", exists=True)
    ] = None,
    ssl_keyfile: Annotated[
        Path | None, typer.Option(help="The certificate's private key (PEM).", exists=True)
    ] = None,
) -> None:
    """Start the gateway (and the upstream simulator when no provider is configured)."""
    overrides: dict[str, Any] = {
        k: v for k, v in {"host": host, "port": port, "data_dir": data_dir}.items() if v is not None
    }
    settings = load_settings(config, **overrides)
    if (ssl_certfile is None) != (ssl_keyfile is None):
        refuse("--ssl-certfile and --ssl-keyfile go together.", 2)
    ssl: dict[str, Any] = (
        {"ssl_certfile": str(ssl_certfile), "ssl_keyfile": str(ssl_keyfile)}
        if ssl_certfile is not None
        else {}
    )
    problem = deployment_problem(settings, workers)
    if problem is not None:
        refuse(f"Refusing to start: {problem}", 2)
    from ..logs import configure
    from ..storage.private_files import warn_if_exposed

    configure(settings.log_level)
    warn_if_exposed(settings.resolved_database_url)
    disable_core_dumps()
    # The banner's commands reach this gateway's database from the shell that started it.
    commands = Commands(program(), config=config, data_dir=data_dir)
    try:
        if workers > 1:
            serve_workers(settings, config, workers, ssl, commands)
            return
        import uvloop

        uvloop.run(serve_one(settings, ssl, commands))
    except CannotListen as exc:
        refuse(str(exc))


@app.command("retention")
def retention(
    action: Annotated[str, typer.Argument(help="'run': bill closed days, purge old metadata.")],
    config: ConfigOption = None,
) -> None:
    """Append daily billing records and purge request metadata past retention, now."""
    from ..metering.retention import run_retention

    if action != "run":
        refuse("Only 'routeplex retention run' exists.", 2)
    settings = load_settings(config)

    async def go(store: Store) -> Any:
        return await run_retention(
            store,
            retention_days=settings.metadata_retention_days,
            grace=timedelta(seconds=settings.billing_grace_s),
        )

    report = run(lambda: with_store(settings, go))
    console.print(
        f"Billed {report.billed_days} closed day(s) ({report.billing_rows} rows); purged "
        f"{report.purged_rows} metadata rows older than {settings.metadata_retention_days} days."
    )


@app.command()
def simulate(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8090,
    quiet: Annotated[bool, typer.Option(help="Log warnings only, no access log.")] = False,
    request_log: Annotated[
        bool,
        typer.Option(
            help="Keep the last 50 request bodies in memory, readable without auth at "
            "GET /_simulator/requests (a test tool: they are prompts)."
        ),
    ] = True,
) -> None:
    """Run the upstream simulator alone, a test tool: OpenAI Chat Completions, Anthropic
    Messages and Gemini generateContent, with fault injection. Unlike the simulator that
    `serve` starts, it keeps a log of the last request bodies unless told not to."""
    from ..simulator.server import serve_simulator

    console.print(
        f"Upstream simulator on http://{host}:{port} (POST /_simulator/faults to inject faults)"
    )
    asyncio.run(serve_simulator(host, port, quiet=quiet, request_log=request_log))


@app.command()
def migrate(config: ConfigOption = None) -> None:
    """Apply database migrations (also done at start-up)."""
    settings = load_settings(config)

    async def noop(store: Store) -> str:
        return store.backend

    backend = run(lambda: with_store(settings, noop))
    console.print(f"Database ({backend}) is at the latest schema version.")


# --- accounts ------------------------------------------------------------------------------
@accounts_app.command("create")
def accounts_create(
    name: str,
    plan: Annotated[str, typer.Option(help="Plan name.")] = "evaluation",
    email: Annotated[str | None, typer.Option(help="Contact e-mail.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an account."""
    settings = load_settings(config)
    check_plan(settings, plan)
    try:
        account = run(
            lambda: with_store(settings, lambda s: s.create_account(name, plan=plan, email=email))
        )
    except AccountExists:
        refuse(f"An account named {name!r} already exists.")
    except InvalidAccountName as exc:
        refuse(f"The account name {exc}.")
    if as_json:
        print(json.dumps({"id": account.id, "name": account.name, "plan": account.plan}))
    else:
        console.print(f"Created account {account.name} ({account.id}) on plan {account.plan}.")


@accounts_app.command("update")
def accounts_update(
    name: str,
    plan: Annotated[str | None, typer.Option(help="New plan.")] = None,
    limits: Annotated[
        str | None,
        typer.Option(
            help='Per-account overrides as JSON, e.g. \'{"rpm": 60}\'; "null" clears them.'
        ),
    ] = None,
    disable: Annotated[
        bool | None, typer.Option("--disable/--enable", help="Refuse or allow the account's keys.")
    ] = None,
    require_zero_retention: ZeroRetentionOption = False,
    no_training: NoTrainingOption = False,
    regions: RegionsOption = None,
    clear_data_policy: ClearOption = False,
    config: ConfigOption = None,
) -> None:
    """Change an account's plan, limit overrides, data-policy requirement (which its keys can
    only narrow), or whether it is disabled."""
    from ..limits.plans import validate_limits

    settings = load_settings(config)
    flags = Flags(require_zero_retention, no_training, regions, clear_data_policy)
    changes: dict[str, Any] = {}
    if plan is not None:
        check_plan(settings, plan)
        changes["plan"] = plan
    if disable is not None:
        changes["disabled"] = disable
    if limits is not None:
        try:
            parsed = json.loads(limits)
            changes["limits"] = None if parsed is None else validate_limits(parsed)
        except ValueError as exc:
            refuse(f"Bad --limits: {exc}")

    async def update(store: Store) -> Any:
        account_id = await find_account_id(store, name)
        if flags.given:
            account = await store.get_account(account_id)
            requirement = flags.applied_to(account.data_policy if account else None)
            changes["data_policy"] = requirement.label() or None
        return await store.update_account(account_id, **changes)

    account = run(lambda: with_store(settings, update))
    console.print(
        f"Updated {account.name}: plan {account.plan}, limits "
        f"{json.dumps(account.limits)}, {'disabled' if account.disabled else 'enabled'}, "
        f"data policy {described(account.data_policy)}.",
        highlight=False,
    )


@accounts_app.command("list")
def accounts_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List accounts."""
    settings = load_settings(config)
    accounts = run(lambda: with_store(settings, lambda s: s.list_accounts()))
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "id": a.id,
                        "name": a.name,
                        "plan": a.plan,
                        "disabled": a.disabled,
                        "data_policy": requirement_view(a.data_policy),
                    }
                    for a in accounts
                ]
            )
        )
        return
    table = Table("id", "name", "plan", "data policy", "created")
    for a in accounts:
        table.add_row(
            a.id, a.name, a.plan, described(a.data_policy), a.created_at.strftime("%Y-%m-%d")
        )
    show(table)


# --- usage ---------------------------------------------------------------------------------
app.command()(usage)


# --- privacy audit -------------------------------------------------------------------------
@app.command("privacy-audit")
def privacy_audit(config: ConfigOption = None) -> None:
    """Print what RoutePlex stores, and scan the database (and Redis) for anything that looks
    like request content. Exits 1 if something does, naming where but never the value. Then
    list the configured deployments whose data policy has unknown fields (not a failure)."""
    from ..policy_audit import render_policies
    from ..privacy import audit, render

    settings = load_settings(config, make_data_dir=False)  # it only reads
    report = run(lambda: audit(settings))
    # Plain print, not Rich: the output is Markdown the README quotes verbatim.
    print(render(report, settings.metadata_retention_days))
    print()
    print(render_policies(settings))
    if report.findings:
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        # A user's mistake, not the program's: the one line says where, no traceback.
        complain(str(exc))
        sys.exit(2)
