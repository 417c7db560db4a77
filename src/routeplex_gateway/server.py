"""Running the gateway: one process (with the upstream simulator when no provider is
configured) or several workers sharing Redis; the listening socket, bound before anything
else happens; the first run's demo account and keys (`banner.py` shows them once).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from .banner import Commands, Start, banner
from .config import Settings
from .storage import Store

T = TypeVar("T")

DEMO_ACCOUNT = "demo"
DEMO_PLAN = "usage"


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
class CannotListen(Exception):
    """The address is taken, or not this host's to bind: said in one line, no traceback."""


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, bound before anything says "listening" and before the
    first run mints keys (a key shown to a process that then fails would be lost). Until the
    server accepts, connections wait in the backlog rather than being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # uvicorn's default backlog
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CannotListen(f"address {where} is already in use") from None
        raise CannotListen(f"cannot listen on {where}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)  # worker processes inherit it
    return sock


def bound_url(scheme: str, host: str, sock: socket.socket) -> str:
    """The URL clients use: the port actually bound (`--port 0` picks one)."""
    port = sock.getsockname()[1]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


async def first_run(store: Store) -> Start:
    """The demo account (created on the first run, on the `usage` plan: `evaluation`'s one
    request at a time would trip a person trying things out), and its first key and the
    first admin key the one time they are minted."""
    from .auth import issue_admin_key, issue_key

    account = await store.get_account_by_name(DEMO_ACCOUNT)
    if account is None:
        account = await store.create_account(DEMO_ACCOUNT, plan=DEMO_PLAN)
    if await store.list_keys(account.id):
        return Start(account)
    plaintext, _ = await issue_key(store, account.id, name="demo")
    admin = None
    if not await store.list_admin_keys():
        admin, _ = await issue_admin_key(store, name="first-run")
    return Start(account, key=plaintext, admin_key=admin)


async def serve_one(settings: Settings, ssl: dict[str, Any], commands: Commands) -> None:
    import signal

    import uvicorn

    from .app import create_app
    from .logs import quiet_helper_server

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

    sock = listen(settings.host, settings.port)
    simulator: Server | None = None
    simulator_url = None
    if simulated(settings):
        # Imported only when needed: a gateway with real providers never loads it.
        from .simulator.app import create_simulator_app

        simulator_sock = listen("127.0.0.1", settings.simulator_port)
        simulator_url = bound_url("http", "127.0.0.1", simulator_sock)
        simulator = Server(
            uvicorn.Config(
                create_simulator_app(),
                log_level="warning",
                log_config=None,
                access_log=False,
            )
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    start = await with_store(settings, first_run)
    gateway = Server(
        uvicorn.Config(
            create_app(settings, simulator_url=simulator_url), **server_options(settings, ssl)
        )
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(gateway, "should_exit", True))
    banner(
        settings,
        bound_url("https" if ssl else "http", settings.host, sock),
        start,
        commands,
        simulator_url,
    )
    side = None
    if simulator is not None:

        async def serve_quietly(server: Server, sockets: list[socket.socket]) -> None:
            quiet_helper_server()  # this task's uvicorn lines would repeat the gateway's
            await server.serve(sockets)

        side = asyncio.create_task(serve_quietly(simulator, [simulator_sock]))
    try:
        # The gateway drains first (in-flight requests, metadata flush), then the simulator.
        await gateway.serve([sock])
    finally:
        if simulator is not None and side is not None:
            simulator.should_exit = True
            await side


def simulated(settings: Settings) -> bool:
    return settings.simulate or (
        settings.simulate is None and not settings.has_provider_credentials
    )


def server_options(settings: Settings, ssl: dict[str, Any]) -> dict[str, Any]:
    """uvicorn's options for the gateway, one process or several."""
    from .protocol import BoundedHttpProtocol, HttpBounds

    return {
        "log_level": settings.log_level,
        "log_config": None,  # logs.configure() owns logging: allow-listed JSON only
        "access_log": False,  # it would write paths and query strings
        "loop": "uvloop",
        # httptools, with bounds on what one client can make the process hold.
        "http": functools.partial(BoundedHttpProtocol, bounds=HttpBounds.of(settings)),
        "timeout_keep_alive": settings.keepalive_timeout_s,
        "server_header": False,
        # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: only the
        # operator's named proxies are (a client would otherwise choose its own address).
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": [n for n in settings.trusted_proxies.split(",") if n],
        "timeout_graceful_shutdown": int(settings.shutdown_grace_s),
        **ssl,
    }


def disable_core_dumps() -> None:
    """A core dump would be a file holding whatever prompts were in memory."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def serve_workers(
    settings: Settings,
    config: Path | None,
    workers: int,
    ssl: dict[str, Any],
    commands: Commands,
) -> None:
    """Several worker processes on one port; limits are shared through Redis."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    sock = listen(settings.host, settings.port)
    os.environ.update(
        {
            "ROUTEPLEX_HOST": settings.host,
            "ROUTEPLEX_PORT": str(sock.getsockname()[1]),
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
    simulator: subprocess.Popen[bytes] | None = None
    simulator_url = None
    if simulated(settings):
        port = settings.simulator_port or free_port()
        command = [sys.executable, "-m", "routeplex_gateway", "simulate", "--port", str(port)]
        simulator = subprocess.Popen(
            # Quiet: its lifecycle lines would read as the gateway's own. No request log: the
            # product keeps no request bodies, simulated or not.
            [*command, "--quiet", "--no-request-log"],
            stdout=subprocess.DEVNULL,
        )
        simulator_url = f"http://127.0.0.1:{port}"
        os.environ["ROUTEPLEX_SIMULATOR_URL"] = simulator_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    start = asyncio.run(with_store(settings, first_run))
    banner(
        settings,
        bound_url("https" if ssl else "http", settings.host, sock),
        start,
        commands,
        simulator_url,
    )
    try:
        # What `uvicorn.run(workers=N)` does, on the socket bound above.
        options = uvicorn.Config(
            "routeplex_gateway.app:app_from_environment",
            factory=True,
            workers=workers,
            **server_options(settings, ssl),
        )
        Multiprocess(options, sockets=[sock]).run()
    finally:
        if simulator is not None:
            simulator.terminate()
            simulator.wait(timeout=10)
