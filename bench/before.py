"""RoutePlex as it was at an earlier commit — the `routeplex-before` target — so a change's
cost is measured side by side with the code it changed, in the same run on the same machine.

The commit's tree is exported (`git archive`: no worktree is registered in the repository)
into `bench/.work/before-<commit>/` and given a virtual environment of its own, made the way
the project's Makefile makes one, from that commit's own hash-pinned `requirements/runtime.lock`
(`--require-hashes`), with the project installed editable without build isolation (its build
backend comes from the same lock). It is built once per commit, which takes about a minute;
a directory left half-built by an interrupted build is removed and built again.

It is then started exactly like the `routeplex` target (`targets.RoutePlex`): the same
settings, a fresh SQLite data directory, an account and a key made with its own CLI. In a
comparison the `routeplex` target itself runs from a venv built the same way from this tree
(`RoutePlexAfter`), so the two sides differ in their code only.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from bench.targets import REPO, WORK, RoutePlex

# The last commit before the one-pipeline work (1306225): the chat path it rewrote.
DEFAULT_BEFORE = "11c9050"
_BUILT = ".bench-built"  # written last: its presence means the build finished


def resolve(ref: str, repo: Path = REPO) -> str:
    """The full commit id `ref` names in `repo`."""
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RuntimeError(f"--before names no commit of {repo}: {ref!r}") from exc
    return out.stdout.strip()


def build_dir(commit: str, work: Path = WORK) -> Path:
    return work / f"before-{commit[:7]}"


def build_commands(
    commit: str, tree: Path, repo: Path = REPO, python: str = sys.executable
) -> list[list[str]]:
    """The commands that build `commit` into `tree`, in order (each run with `check=True`)."""
    archive = f"git -C {_quote(repo)} archive --format=tar {commit} | tar -x -C {_quote(tree)}"
    return [["sh", "-c", archive], *venv_commands(tree, tree / ".venv", python)]


def venv_commands(tree: Path, venv: Path, python: str = sys.executable) -> list[list[str]]:
    """A venv for the project in `tree`, made as the Makefile makes one: the tree's own
    runtime lock with hashes, then the project editable, its build backend from that lock."""
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    pip.append("--disable-pip-version-check")
    return [
        [python, "-m", "venv", str(venv)],
        [*pip, "--require-hashes", "-r", str(tree / "requirements" / "runtime.lock")],
        [*pip, "--no-deps", "--no-build-isolation", "-e", str(tree)],
    ]


def _quote(path: Path) -> str:
    return shlex.quote(str(path))


def build(commit: str, install: bool, work: Path = WORK) -> Path:
    """The tree of `commit`, built now unless it already was; returns its directory."""
    tree = build_dir(commit, work)
    if (tree / _BUILT).exists():
        return tree
    if not install:
        raise RuntimeError(f"RoutePlex at {commit[:7]} is not built (run without --no-install)")
    if tree.exists():
        shutil.rmtree(tree)  # an interrupted build: start again
    tree.mkdir(parents=True)
    print(f"   building RoutePlex at {commit[:7]} into {tree} (about a minute) …", flush=True)
    _run(build_commands(commit, tree), commit[:7])
    (tree / _BUILT).write_text(commit + "\n")
    return tree


def _run(commands: list[list[str]], what: str) -> None:
    for cmd in commands:
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:  # pip's warnings are noise unless the step failed
            tail = "\n".join(done.stderr.splitlines()[-5:])
            raise RuntimeError(f"building {what} failed at {cmd[:4]}:\n{tail}")


def build_after(install: bool, repo: Path = REPO, work: Path = WORK) -> Path:
    """The venv `routeplex` runs from in a comparison: this tree's runtime lock, made like
    the before-target's (the project's own venv holds the test tools too, and the same code
    ran about 5% cheaper from it than from a runtime-lock venv). The project is editable, so
    uncommitted changes count; the venv is remade when the lock or pyproject.toml change."""
    venv = work / "after-venv"
    digest = hashlib.sha256()
    for name in ("requirements/runtime.lock", "pyproject.toml"):
        digest.update((repo / name).read_bytes())
    stamp = venv / _BUILT
    if stamp.exists() and stamp.read_text().strip() == digest.hexdigest():
        return venv
    if not install:
        raise RuntimeError("the comparison's runtime-lock venv is not built (drop --no-install)")
    if venv.exists():
        shutil.rmtree(venv)
    print(f"   building this tree's runtime-lock venv into {venv} (about a minute) …", flush=True)
    _run(venv_commands(repo, venv), "this tree's venv")
    stamp.write_text(digest.hexdigest() + "\n")
    return venv


class RoutePlexAfter(RoutePlex):
    """`routeplex serve` of this tree from the runtime-lock venv (`build_after`), configured
    like `routeplex`: the after side of a comparison, built as the before side is."""

    def prepare(self, install: bool) -> None:
        self.bin = build_after(install) / "bin" / "routeplex"
        self.label = "RoutePlex (this tree, runtime-lock venv)"


class RoutePlexBefore(RoutePlex):
    """`routeplex serve` from the tree of an earlier commit, configured like `routeplex`."""

    name = "routeplex-before"

    def __init__(self, ref: str = DEFAULT_BEFORE) -> None:
        super().__init__()
        self.ref = ref
        self.commit = ""
        self.label = f"RoutePlex at {ref}"
        self.tree: Path | None = None

    def prepare(self, install: bool) -> None:
        self.commit = resolve(self.ref)
        self.label = f"RoutePlex at {self.commit[:7]}"
        self.tree = build(self.commit, install)
        self.bin = self.tree / ".venv" / "bin" / "routeplex"
        if not self.bin.exists():
            raise RuntimeError(f"{self.bin} is missing; remove {self.tree} to rebuild it")

    def version(self) -> str:
        assert self.tree is not None
        return f"{self.commit[:7]} (built in {self.tree.relative_to(REPO)})"
