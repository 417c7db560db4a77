"""Running the gateway: one process (with the upstream simulator when no provider is
configured) or several workers sharing Redis; the first run's demo account and keys, and the
banner that shows them once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console

from .config import Settings
from .storage import Store

console = Console()
T = TypeVar("T")

DEMO_ACCOUNT = "demo"


async def with_store(settings: Settings, fn: Callable[[Store], Awaitable[T]]) -> T:
    """Run `fn` on the configured database, migrated, then close it."""
    store = await Store.open(settings.resolved_database_url)
    try:
        await store.migrate()
        return await fn(store)
    finally:
        await store.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- serve ---------------------------------------------------------------------------------
async def first_run(store: Store) -> tuple[str, str] | None:
    """Create the demo account, its first key and the first admin key; return both keys the
    one time they exist."""
    from .auth import issue_admin_key, issue_key

    account = await store.get_account_by_name(DEMO_ACCOUNT)
    if account is None:
        account = await store.create_account(DEMO_ACCOUNT, plan="evaluation")
    if await store.list_keys(account.id):
        return None
    plaintext, _ = await issue_key(store, account.id, name="demo")
    admin = None
    if not await store.list_admin_keys():
        admin, _ = await issue_admin_key(store, name="first-run")
    return plaintext, admin or ""


def banner(settings: Settings, base: str, keys: tuple[str, str] | None, simulated: bool) -> None:
    if simulated:
        console.print(
            "[bold black on yellow] SIMULATED PROVIDERS [/] No provider credentials are set, "
            "so answers come from RoutePlex's built-in upstream simulator, not a real model.\n"
            "Set OPENAI_API_KEY (and optionally OPENAI_BASE_URL) to use a real provider.",
        )
    console.print(
        f"RoutePlex listening on [bold]{base}[/]  (database: "
        f"{settings.resolved_database_url.split('://')[0]})"
    )
    console.print(f"Dashboard: {base}/app")
    if keys is None:
        console.print("Use an existing key, or create one: routeplex keys create --account demo")
        return
    key, admin = keys
    console.print(f"\nYour demo API key (shown once, stored only as a hash):\n\n  [bold]{key}[/]\n")
    if admin:
        console.print(
            f"Operator (admin) key for /admin and the dashboard (shown once):\n\n"
            f"  [bold]{admin}[/]\n",
            highlight=False,
        )
    console.print("Try it with curl:\n")
    console.print(
        f"curl {base}/v1/chat/completions \\\n"
        f"  -H 'Authorization: Bearer {key}' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        '  -d \'{"model": "gpt-4o-mini", "messages": [{"role": "user", '
        '"content": "Hello!"}]}\'\n',
        soft_wrap=True,
        highlight=False,
    )
    console.print("Or with the OpenAI Python SDK:\n")
    console.print(
        "from openai import OpenAI\n"
        f'client = OpenAI(base_url="{base}/v1", api_key="{key}")\n'
        'reply = client.chat.completions.create(model="gpt-4o-mini",\n'
        '    messages=[{"role": "user", "content": "Hello!"}])\n'
        "print(reply.choices[0].message.content)\n",
        soft_wrap=True,
        highlight=False,
    )


async def serve_one(settings: Settings, ssl: dict[str, Any]) -> None:
    import signal

    import uvicorn

    from .app import create_app

    class Server(uvicorn.Server):
        # Signals are handled once, below, for the gateway and its simulator together.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # An idle keep-alive TLS connection would hold shutdown for the TLS close
            # handshake (30 s when the client never answers); in-flight requests still
            # get the whole grace period.
            for connection in list(self.server_state.connections):
                cycle = getattr(connection, "cycle", None)
                transport = getattr(connection, "transport", None)
                if transport is not None and (cycle is None or cycle.response_complete):
                    transport.abort()
            await super().shutdown(sockets)

    simulated = settings.simulate or (
        settings.simulate is None and not settings.has_provider_credentials
    )
    simulator: Server | None = None
    simulator_url = None
    if simulated:
        # Imported only when needed: a gateway with real providers never loads it.
        from .simulator.app import create_simulator_app

        port = settings.simulator_port or free_port()
        simulator_url = f"http://127.0.0.1:{port}"
        simulator = Server(
            uvicorn.Config(
                create_simulator_app(),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                log_config=None,
                access_log=False,
            )
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keys = await with_store(settings, first_run)
    gateway = Server(
        uvicorn.Config(
            create_app(settings, simulator_url=simulator_url),
            host=settings.host,
            port=settings.port,
            **server_options(settings, ssl),
        )
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(gateway, "should_exit", True))
    scheme = "https" if ssl else "http"
    banner(settings, f"{scheme}://{settings.host}:{settings.port}", keys, simulated)
    side = asyncio.create_task(simulator.serve()) if simulator is not None else None
    try:
        # The gateway drains first (in-flight requests, metadata flush), then the simulator.
        await gateway.serve()
    finally:
        if simulator is not None and side is not None:
            simulator.should_exit = True
            await side


def server_options(settings: Settings, ssl: dict[str, Any]) -> dict[str, Any]:
    """uvicorn's options for the gateway, one process or several."""
    return {
        "log_level": settings.log_level,
        "log_config": None,  # logs.configure() owns logging: allow-listed JSON only
        "access_log": False,  # it would write paths and query strings
        "loop": "uvloop",
        "http": "httptools",
        "server_header": False,
        "timeout_graceful_shutdown": int(settings.shutdown_grace_s),
        **ssl,
    }


def disable_core_dumps() -> None:
    """A core dump would be a file holding whatever prompts were in memory."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def serve_workers(
    settings: Settings, config: Path | None, workers: int, ssl: dict[str, Any]
) -> None:
    """Several worker processes on one port; limits are shared through Redis."""
    import uvicorn

    os.environ.update(
        {
            "ROUTEPLEX_HOST": settings.host,
            "ROUTEPLEX_PORT": str(settings.port),
            "ROUTEPLEX_DATA_DIR": str(settings.data_dir.resolve()),
        }
    )
    if config is not None:
        os.environ["ROUTEPLEX_CONFIG"] = str(config.resolve())
    if settings.session_secret is None:
        # One secret for every worker (in their environment only, never written down), so a
        # dashboard session signed by one worker is accepted by the others.
        import secrets

        os.environ["ROUTEPLEX_SESSION_SECRET"] = secrets.token_urlsafe(32)
    simulated = settings.simulate or (
        settings.simulate is None and not settings.has_provider_credentials
    )
    simulator: subprocess.Popen[bytes] | None = None
    if simulated:
        port = settings.simulator_port or free_port()
        simulator = subprocess.Popen(
            [sys.executable, "-m", "routeplex_gateway", "simulate", "--port", str(port)],
            stdout=subprocess.DEVNULL,
        )
        os.environ["ROUTEPLEX_SIMULATOR_URL"] = f"http://127.0.0.1:{port}"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keys = asyncio.run(with_store(settings, first_run))
    scheme = "https" if ssl else "http"
    banner(settings, f"{scheme}://{settings.host}:{settings.port}", keys, simulated)
    try:
        uvicorn.run(
            "routeplex_gateway.app:app_from_environment",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            **server_options(settings, ssl),
        )
    finally:
        if simulator is not None:
            simulator.terminate()
            simulator.wait(timeout=10)
