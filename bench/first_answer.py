"""Time from `make serve` on a fresh clone to the first answer, as a newcomer meets it.

Clones a commit into an empty temporary folder (nothing beside it, no virtual environment),
runs `make serve` there with pip's cache off (a fresh machine has none), reads the demo key
from what it prints, and sends the README's first request until it is answered. Prints the
seconds and the size of the virtual environment it built, as JSON. Several commits in one run
make the comparison (the machine and the network are the same for each):

    .venv/bin/python -m bench.first_answer a76b124 HEAD
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
KEY = re.compile(r"rp_live_[A-Za-z0-9_\-]+")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _size_mb(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return round(total / 1e6, 1)


def measure(commit: str, timeout_s: float = 600.0) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as root:
        clone = Path(root) / "routeplex"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", commit], check=True)
        port = _free_port()
        env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "ROUTEPLEX_PORT": str(port)}
        for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "VIRTUAL_ENV"):
            env.pop(name, None)
        started = time.monotonic()
        process = subprocess.Popen(
            ["make", "serve"],
            cwd=clone,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        keys: list[str] = []

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                keys.extend(KEY.findall(line))

        threading.Thread(target=read, daemon=True).start()
        try:
            while time.monotonic() - started < timeout_s:
                if process.poll() is not None:
                    raise RuntimeError(f"make serve exited with {process.returncode}")
                if keys:
                    try:
                        reply = httpx.post(
                            f"http://127.0.0.1:{port}/v1/chat/completions",
                            headers={"Authorization": f"Bearer {keys[0]}"},
                            json={
                                "model": "gpt-4o-mini",
                                "messages": [{"role": "user", "content": "Hello!"}],
                            },
                            timeout=10,
                        )
                        if reply.status_code == 200:
                            seconds = time.monotonic() - started
                            return {
                                "commit": commit,
                                "seconds_to_first_answer": round(seconds, 1),
                                "venv_mb": _size_mb(clone / ".venv"),
                            }
                    except httpx.TransportError:
                        pass
                time.sleep(0.2)
            raise TimeoutError(f"no answer within {timeout_s} s")
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
            shutil.rmtree(clone, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commits", nargs="+", help="commits to compare, measured in this order")
    args = parser.parse_args()
    for commit in args.commits:
        print(json.dumps(measure(commit)), flush=True)


if __name__ == "__main__":
    main()
