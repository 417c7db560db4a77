"""The systems under test, each started pinned to the target core and torn down after its
scenarios: RoutePlex (every feature on; also with limits in Redis, one and two workers), the
lean pass-through, `direct` (the mock itself, the limit), and — in `peers.py` — LiteLLM's
proxy and Portkey's gateway.

Every target is configured to do the same job: authenticate the client (except Portkey, which
has no client auth in its open-source gateway), send the request to the mock as gpt-4o-mini,
and relay the answer or the stream. RoutePlex serves the other surfaces too (`surfaces`):
Claude through the mock's Anthropic wire, Anthropic's Messages API in front of both, OpenAI's
Responses API (forwarded to the mock's) and OpenAI's embeddings.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / ".work"
TARGET_CORE = 0
HARNESS_CORE = 1

UPSTREAM_KEY = "sk-bench-upstream"
ANTHROPIC_UPSTREAM_KEY = "sk-ant-bench-upstream"
ANTHROPIC_VERSION = "2023-06-01"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# A server where the harness may create (and drop) a database of its own.
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
# RoutePlex's surfaces of each wire format a build may not have (Messages, Responses,
# embeddings came later), checked at launch with `serves`.
LATER_WIRES = {
    "anthropic": ("messages-gpt", "messages-claude"),
    "responses": ("responses",),
    "embeddings": ("embeddings",),
}
BENCH_LIMITS = {
    "rpm": 1_000_000_000,
    "concurrency": 100_000,
    "tokens_per_day": 10**15,
    "cost_per_day_usd": "1000000",
}


@contextlib.contextmanager
def harness_lock() -> Iterator[None]:
    """One harness run at a time on a machine: two would share the pinned cores and spoil
    each other's numbers. A second run waits here until the first is done."""
    WORK.mkdir(parents=True, exist_ok=True)
    with (WORK / "harness.lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("waiting for another benchmark run on this machine to finish …", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pinning() -> bool:
    return (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Endpoint:
    url: str
    headers: dict[str, str] = field(default_factory=dict)


class Target:
    """One system under test. Subclasses fill in `prepare`, `launch` and `version`."""

    name = "target"
    label = "target"
    pinned = True  # on TARGET_CORE; a multi-process target spreads over both cores instead
    # The surfaces it is measured on (`scenarios.SURFACES`): chat to GPT, unless it says more.
    surfaces: frozenset[str] = frozenset({"chat"})

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.notes: list[str] = []
        # Where each wire format is served, once launched: "openai" is what `launch` returns.
        self.endpoints: dict[str, Endpoint] = {}
        # A command the target runs under (`bench.instructions`: valgrind), after pinning.
        self.under: tuple[str, ...] = ()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def prepare(self, install: bool) -> None:
        """Make sure the target is installed (or say why it cannot be)."""

    def launch(self, mock_base: str, workdir: Path) -> Endpoint:
        raise NotImplementedError

    def version(self) -> str:
        return ""

    def spawn(self, cmd: list[str], env: dict[str, str], workdir: Path, cwd: Path) -> None:
        self.log_path = workdir / f"{self.name}.log"
        prefix: list[str] = list(self.under)
        if pinning():
            # Unpinned means every core: the harness has pinned itself to its own core, and a
            # child inherits that affinity unless told otherwise.
            cores = str(TARGET_CORE) if self.pinned else f"0-{(os.cpu_count() or 1) - 1}"
            prefix = ["taskset", "-c", cores, *prefix]
        with self.log_path.open("ab") as log:  # a target relaunched keeps one log
            self.proc = subprocess.Popen(
                prefix + cmd,
                env={**os.environ, **env},
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, so stop() ends all of it
            )

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def wait_http(self, url: str, timeout_s: float) -> None:
        """Until `url` answers anything at all (or the process dies)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start-up; see {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answered
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {url} within {timeout_s:.0f} s")


class Direct(Target):
    """The mock upstream itself: the same requests with no gateway in between."""

    name = "direct"
    label = "direct (mock)"
    # Messages to Claude directly is the mock's Anthropic wire, Responses and embeddings its
    # OpenAI ones; the other surfaces have no upstream of their own.
    surfaces = frozenset({"chat", "messages-claude", "responses", "embeddings"})

    def __init__(self, mock_pid: int) -> None:
        super().__init__()
        self._mock_pid = mock_pid

    @property
    def pid(self) -> int:
        return self._mock_pid

    def launch(self, mock_base: str, workdir: Path) -> Endpoint:
        self.endpoints["anthropic"] = Endpoint(
            f"{mock_base}/messages",
            {"x-api-key": ANTHROPIC_UPSTREAM_KEY, "anthropic-version": ANTHROPIC_VERSION},
        )
        bearer = {"Authorization": f"Bearer {UPSTREAM_KEY}"}
        self.endpoints["responses"] = Endpoint(f"{mock_base}/responses", bearer)
        self.endpoints["embeddings"] = Endpoint(f"{mock_base}/embeddings", bearer)
        return Endpoint(f"{mock_base}/chat/completions", bearer)

    def version(self) -> str:
        return "bench/mock_upstream.py"


class RoutePlex(Target):
    name = "routeplex"
    label = "RoutePlex"
    serve_args: tuple[str, ...] = ()
    serve_env: tuple[tuple[str, str], ...] = ()
    ALL_SURFACES = frozenset(
        {"chat", "chat-claude", "messages-gpt", "messages-claude", "responses", "embeddings"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.data_dir: Path | None = None
        self.launches = 0
        self.bin = Path(sys.executable).parent / "routeplex"
        self.surfaces = self.ALL_SURFACES

    def prepare(self, install: bool) -> None:
        if not self.bin.exists():
            found = shutil.which("routeplex")
            if found is None:
                raise RuntimeError("the `routeplex` command is not installed in this venv")
            self.bin = Path(found)

    def _cli(self, env: dict[str, str], *args: str) -> str:
        out = subprocess.run(
            [str(self.bin), *args],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout

    def launch(self, mock_base: str, workdir: Path) -> Endpoint:
        self.launches += 1  # a fresh data directory for each launch (`--relaunch`)
        suffix = f"-{self.launches}" if self.launches > 1 else ""
        self.data_dir = workdir / f"{self.name}-data{suffix}"
        port = free_port()
        env = {
            "ROUTEPLEX_DATA_DIR": str(self.data_dir),
            "ROUTEPLEX_HOST": "127.0.0.1",
            "ROUTEPLEX_PORT": str(port),
            "ROUTEPLEX_LOG_LEVEL": "warning",
            # One string-hash seed for every launch of every RoutePlex: a random one moves a
            # process's CPU per request by a few percent for its whole life (dict layouts).
            "PYTHONHASHSEED": "0",
            # Provider keys, so no simulator starts; the base URLs point the built-in OpenAI
            # and Anthropic providers at the mock (Anthropic's without /v1: it adds it).
            "OPENAI_API_KEY": UPSTREAM_KEY,
            "OPENAI_BASE_URL": mock_base,
            "ANTHROPIC_API_KEY": ANTHROPIC_UPSTREAM_KEY,
            "ANTHROPIC_BASE_URL": mock_base.removesuffix("/v1"),
            **self.database_env(),
        }
        self._cli(env, "accounts", "create", "bench", "--plan", "usage", "--json")
        # Limits stay on and binding (reserved, counted and checked on every request), but
        # far above what a benchmark reaches.
        self._cli(env, "accounts", "update", "bench", "--limits", json.dumps(BENCH_LIMITS))
        created = self._cli(
            env, "keys", "create", "--account", "bench", "--name", "bench", "--json"
        )
        key = json.loads(created)["key"]
        self.spawn(
            [str(self.bin), "serve", *self.serve_args],
            {**env, **dict(self.serve_env)},
            workdir,
            cwd=workdir,
        )
        base = f"http://127.0.0.1:{port}"
        self.wait_http(f"{base}/health", 300 if self.under else 60)
        bearer = {"Authorization": f"Bearer {key}"}
        self.endpoints["anthropic"] = Endpoint(
            f"{base}/v1/messages", {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}
        )
        self.endpoints["responses"] = Endpoint(f"{base}/v1/responses", bearer)
        self.endpoints["embeddings"] = Endpoint(f"{base}/v1/embeddings", bearer)
        # A build from before a surface (Messages, Responses, embeddings) is measured on the
        # others only.
        missing = {
            surface
            for wire, surfaces in LATER_WIRES.items()
            if not serves(self.endpoints[wire])
            for surface in surfaces
        }
        self.surfaces = self.ALL_SURFACES - missing
        return Endpoint(f"{base}/v1/chat/completions", bearer)

    def database_env(self) -> dict[str, str]:
        """Where the gateway keeps its data: SQLite in its data directory by default."""
        return {}

    def drop(self) -> None:
        """Remove what `launch` made outside the run directory (nothing, by default)."""

    def metadata_rows(self) -> dict[str, int]:
        """Rows the gateway recorded, by HTTP status (read after it has stopped and flushed)."""
        assert self.data_dir is not None
        with sqlite3.connect(self.data_dir / "routeplex.db") as db:
            rows = db.execute(
                "SELECT http_status, count(*) FROM request_metadata GROUP BY http_status"
            ).fetchall()
        return {str(status): count for status, count in rows}

    def version(self) -> str:
        try:
            rev = subprocess.run(
                ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            rev, dirty = "?", ""
        return f"{metadata.version('routeplex-gateway')} ({rev}{'+dirty src' if dirty else ''})"


def serves(endpoint: Endpoint) -> bool:
    """Whether the server has a route at the endpoint: an empty POST is refused as invalid,
    not found (404) where there is none."""
    headers = {**endpoint.headers, "Content-Type": "application/json"}
    request = urllib.request.Request(endpoint.url, b"{}", headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code != 404


class RoutePlexRedis(RoutePlex):
    """`routeplex serve` with limits in Redis (every admission a Redis script), one process,
    not pinned: the same-run baseline for the two-worker target below."""

    name = "routeplex-redis"
    label = "RoutePlex, limits in Redis"
    pinned = False
    serve_env = (("ROUTEPLEX_REDIS_URL", REDIS_URL),)

    def prepare(self, install: bool) -> None:
        super().prepare(install)
        try:
            subprocess.run(["redis-cli", "-u", REDIS_URL, "ping"], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise RuntimeError(f"Redis is not reachable at {REDIS_URL}") from exc

    def launch(self, mock_base: str, workdir: Path) -> Endpoint:
        # A clean slate: the rate-limit windows of an earlier run must not count.
        subprocess.run(["redis-cli", "-u", REDIS_URL, "flushdb"], check=True, capture_output=True)
        return super().launch(mock_base, workdir)


class RoutePlexPostgres(RoutePlexRedis):
    """RoutePlex as replicas run it: metadata in PostgreSQL (a fresh database, dropped at the
    end), limits in Redis; one process, pinned like `routeplex`. For the soak's memory curve."""

    name = "routeplex-pg"
    label = "RoutePlex on PostgreSQL + Redis"
    pinned = True

    def __init__(self) -> None:
        super().__init__()
        self.database = f"rp_bench_{os.getpid()}_{int(time.time())}"

    def _psql(self, database: str, sql: str) -> str:
        return subprocess.run(
            ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", f"{POSTGRES_URL}/{database}", "-c", sql],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def database_env(self) -> dict[str, str]:
        return {"ROUTEPLEX_DATABASE_URL": f"{POSTGRES_URL}/{self.database}"}

    def launch(self, mock_base: str, workdir: Path) -> Endpoint:
        self._psql("postgres", f'CREATE DATABASE "{self.database}"')
        return super().launch(mock_base, workdir)

    def metadata_rows(self) -> dict[str, int]:
        out = self._psql(
            self.database,
            "SELECT http_status, count(*) FROM request_metadata GROUP BY http_status",
        )
        return {status: int(n) for status, n in (line.split("|") for line in out.split())}

    def drop(self) -> None:
        self._psql("postgres", f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


class RoutePlexWorkers(RoutePlexRedis):
    """`routeplex serve --workers 2`, limits in Redis, on both cores — which it shares with
    the mock, the load generator and Redis, so set it beside `routeplex-redis` (one worker,
    same conditions) to see what the second worker adds."""

    name = "routeplex-2w"
    label = "RoutePlex, 2 workers"
    serve_args = ("--workers", "2")


class Passthrough(Target):
    """bench/passthrough.py: the same stack with no features — the floor RoutePlex is held to."""

    name = "passthrough"
    label = "lean pass-through"

    def launch(self, mock_base: str, workdir: Path) -> Endpoint:
        port = free_port()
        script = BENCH / "passthrough.py"
        self.spawn(
            [sys.executable, str(script), "--port", str(port)],
            {"UPSTREAM": mock_base},
            workdir,
            cwd=workdir,
        )
        base = f"http://127.0.0.1:{port}"
        self.wait_http(f"{base}/", 30)
        return Endpoint(f"{base}/chat/completions", {"Authorization": f"Bearer {UPSTREAM_KEY}"})

    def version(self) -> str:
        return "bench/passthrough.py"


def make_targets(
    names: list[str], mock_pid: int, before: str | None = None, same_build: bool = False
) -> list[Target]:
    """The targets named; `routeplex-before` is RoutePlex at the commit `before` names, and
    with `same_build`, `routeplex` runs from a venv built as that one's is."""
    # They build on Target: imported here, not above.
    from bench.before import DEFAULT_BEFORE, RoutePlexAfter, RoutePlexBefore
    from bench.peers import LiteLLM, Portkey

    known: dict[str, type[Target]] = {
        "routeplex": RoutePlex,
        "passthrough": Passthrough,
        "routeplex-redis": RoutePlexRedis,
        "routeplex-2w": RoutePlexWorkers,
        "litellm": LiteLLM,
        "portkey": Portkey,
    }
    targets: list[Target] = []
    for name in names:
        if name == "direct":
            targets.append(Direct(mock_pid))
        elif name == "routeplex" and same_build:
            targets.append(RoutePlexAfter())
        elif name == "routeplex-before":
            targets.append(RoutePlexBefore(before or DEFAULT_BEFORE))
        elif name in known:
            targets.append(known[name]())
        else:
            choices = ", ".join(["direct", *known, "routeplex-before"])
            raise SystemExit(f"unknown target {name!r}; choose from {choices}")
    return targets
