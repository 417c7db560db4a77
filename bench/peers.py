"""The peers RoutePlex is measured against: LiteLLM's proxy and Portkey's gateway, each
installed at a pinned version under `bench/.work/` on first use and configured to do the same
job as RoutePlex (see RESULTS.md, Methodology).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from bench.targets import BENCH, UPSTREAM_KEY, WORK, Endpoint, Target, free_port

LITELLM_VERSION = "1.108.7"
# uvicorn picks httptools over h11 when it is installed (uvicorn[standard]); RoutePlex uses it.
LITELLM_EXTRAS = ["httptools==0.9.0"]
PORTKEY_VERSION = "1.15.2"
LITELLM_MASTER_KEY = "sk-bench-master-key"


class LiteLLM(Target):
    name = "litellm"
    label = "LiteLLM proxy"

    venv = WORK / "litellm-venv"
    config = BENCH / "litellm" / "config.yaml"

    def prepare(self, install: bool) -> None:
        if self._installed() == LITELLM_VERSION:
            return
        if not install:
            raise RuntimeError(f"LiteLLM {LITELLM_VERSION} is not installed in {self.venv}")
        print(f"installing litellm[proxy]=={LITELLM_VERSION} into {self.venv} …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True)
        pip = [str(self.venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, f"litellm[proxy]=={LITELLM_VERSION}", *LITELLM_EXTRAS], check=True)

    def _installed(self) -> str | None:
        python = self.venv / "bin" / "python"
        if not python.exists():
            return None
        out = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
            capture_output=True,
            text=True,
        )
        return out.stdout.strip() or None

    def launch(self, mock_base: str, workdir: Path) -> Endpoint:
        port = free_port()
        env = {
            "BENCH_MOCK_BASE": mock_base,
            "BENCH_UPSTREAM_KEY": UPSTREAM_KEY,
            "LITELLM_LOG": "ERROR",  # also sets uvicorn's log level: no access log
            "LITELLM_MODE": "PRODUCTION",  # no .env loading
        }
        cmd = [
            str(self.venv / "bin" / "litellm"),
            "--config",
            str(self.config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
        ]
        self.spawn(cmd, env, workdir, cwd=workdir)
        base = f"http://127.0.0.1:{port}"
        self.wait_http(f"{base}/health/liveliness", 180)
        return Endpoint(
            f"{base}/v1/chat/completions", {"Authorization": f"Bearer {LITELLM_MASTER_KEY}"}
        )

    def version(self) -> str:
        return f"litellm {self._installed()} (uvicorn + uvloop + httptools, 1 worker)"


class Portkey(Target):
    name = "portkey"
    label = "Portkey gateway"

    home = WORK / "portkey"
    manifest = BENCH / "portkey" / "package.json"
    preload = BENCH / "portkey" / "loopback.mjs"

    @property
    def script(self) -> Path:
        return self.home / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"

    def _versions(self) -> tuple[str | None, str | None]:
        def read(package: str) -> str | None:
            path = self.home / "node_modules" / package / "package.json"
            if not path.exists():
                return None
            version: str = json.loads(path.read_text())["version"]
            return version

        return read("@portkey-ai/gateway"), read("@hono/node-server")

    def prepare(self, install: bool) -> None:
        if shutil.which("node") is None:
            raise RuntimeError("node is not installed")
        wanted = json.loads(self.manifest.read_text())
        hono = wanted["overrides"]["@hono/node-server"]
        if self._versions() == (PORTKEY_VERSION, hono):
            return
        if not install:
            raise RuntimeError(f"@portkey-ai/gateway {PORTKEY_VERSION} is not installed")
        print(f"installing @portkey-ai/gateway@{PORTKEY_VERSION} into {self.home} …", flush=True)
        self.home.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.manifest, self.home / "package.json")
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=self.home,
            check=True,
        )

    def launch(self, mock_base: str, workdir: Path) -> Endpoint:
        port = free_port()
        cmd = [
            "node",
            "--import",
            str(self.preload),  # binds to 127.0.0.1; the start script has no host option
            str(self.script),
            f"--port={port}",
            "--headless",
        ]
        self.spawn(cmd, {"NODE_ENV": "production"}, workdir, cwd=workdir)
        base = f"http://127.0.0.1:{port}"
        self.wait_http(f"{base}/", 60)
        return Endpoint(
            f"{base}/v1/chat/completions",
            {
                "Authorization": f"Bearer {UPSTREAM_KEY}",
                "x-portkey-provider": "openai",
                "x-portkey-custom-host": mock_base,
            },
        )

    def version(self) -> str:
        gateway, hono = self._versions()
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
        return f"@portkey-ai/gateway {gateway}, @hono/node-server {hono}, node {node.strip()}"
