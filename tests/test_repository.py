"""The repository stands on its own and says what is true: no test reads outside it, the README
and docs/design.md cite only files that exist and document every setting, route and error code,
and the two Quickstart commands install from their own hash-pinned locks."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from routeplex_gateway.app import create_app
from routeplex_gateway.config import Settings
from routeplex_gateway.errors import STATUS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

# Paths as the docs write them: a link target or a backticked path under a top-level folder.
_CITED = re.compile(
    r"\]\((?!https?:|#|mailto:)([^)#\s]+)\)"
    r"|`((?:src|tests|bench|docs|requirements|deploy|\.ci)/[^`*…<>\s]+)`"
)


def _cited_paths(text: str, base: Path) -> list[Path]:
    cited = []
    for link, code in _CITED.findall(text):
        target = link or code
        # A link is relative to its document; a backticked path to the repository root.
        cited.append((base / target) if link else (ROOT / target))
    return cited


@pytest.mark.parametrize("document", ["README.md", "docs/design.md", "tests/fixtures/README.md"])
def test_documents_cite_only_files_in_the_repository(document: str) -> None:
    path = ROOT / document
    missing = [
        str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)
        for p in _cited_paths(path.read_text(), path.parent)
        if not p.resolve().exists()
    ]
    assert missing == []


def test_no_test_tool_or_ci_script_reads_outside_the_repository() -> None:
    offenders = []
    # What the repository holds: the harness's own work folder (bench/.work, ignored by git)
    # holds installed packages that are not the project's.
    scanned = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("bench/**/*.py"), ROOT / "Makefile"]
    for path in (p for p in scanned if not p.is_relative_to(ROOT / "bench" / ".work")):
        if path == Path(__file__):
            continue
        text = path.read_text()
        if "../shared" in text or '"shared"' in text or "parents[3]" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_ci_runs_the_readme_test_command_in_a_fresh_clone() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "git clone" in script and "mktemp -d" in script
    assert script.rstrip().endswith("make test")
    assert "make test    # run the whole test suite" in README


def _settings_env_names() -> list[str]:
    # simulator_url is set by `serve --workers` for its own workers; the rest are TOML tables.
    skip = {"simulator_url", "plans", "providers", "models"}
    names = []
    for name, field in Settings.model_fields.items():
        if name in skip or field.validation_alias is not None:
            continue  # provider variables keep the providers' own names
        names.append(f"ROUTEPLEX_{name.upper()}")
    return names


@pytest.mark.parametrize("document", ["README.md", "docs/design.md"])
def test_every_setting_is_documented(document: str) -> None:
    text = (ROOT / document).read_text()
    missing = [name for name in _settings_env_names() if name not in text]
    missing += [table for table in ("[[providers]]", "[models.", "[plans.") if table not in text]
    providers = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY")
    missing += [variable for variable in providers if variable not in text]
    assert missing == []


def test_design_documents_every_error_code_with_its_status() -> None:
    design = (ROOT / "docs" / "design.md").read_text()
    for code, status in STATUS.items():
        assert re.search(rf"`{code.value}`[^\n]*\|\s*{status}\b", design), code.value


def test_design_documents_every_route(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, simulate=True))
    # Path parameters may be named as the reader knows them: {id} for {account_id}.
    unnamed = re.compile(r"\{[^}]*\}")
    paths = {unnamed.sub("{}", getattr(route, "path", "")) for route in app.routes}
    design = unnamed.sub("{}", (ROOT / "docs" / "design.md").read_text())
    missing = [p for p in sorted(paths) if p and p not in design]
    assert missing == []


def test_serving_installs_only_the_runtime_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    serve_prerequisites = re.search(r"^serve: (.*)$", makefile, re.M)
    assert serve_prerequisites is not None
    assert serve_prerequisites.group(1).strip() == "$(RUNTIME)"
    assert re.search(r"^\$\(RUNTIME\):.*requirements/runtime\.lock", makefile, re.M)
    assert re.search(r"^test: \$\(DEV\)", makefile, re.M)
    assert makefile.count("--require-hashes") >= 2


def _pins(lock: str) -> dict[str, list[str]]:
    """Package → its hashes, from a `--generate-hashes` lock."""
    pins: dict[str, list[str]] = {}
    current = None
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.\-]+)==\S+", line):
            current = match.group(1).lower()
            pins[current] = []
        elif current and (hashed := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            pins[current].append(hashed.group(1))
    return pins


def test_locks_pin_every_package_with_hashes() -> None:
    runtime, dev = _pins("runtime.lock"), _pins("dev.lock")
    assert runtime and dev
    assert all(runtime.values()) and all(dev.values())
    # The runtime lock holds what the project declares to run, and no test tooling.
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in declared["dependencies"]:
        name = re.split(r"[<>=;\[ ]", requirement, maxsplit=1)[0].lower()
        assert name in runtime, name
    for tool in ("pytest", "playwright", "mypy", "ruff", "schemathesis", "openai", "anthropic"):
        assert tool not in runtime and tool in dev
    # Every runtime pin is the same version in the dev lock.
    assert set(runtime) <= set(dev)


def test_every_install_from_a_lock_requires_its_hashes() -> None:
    """Each install line, not a count (the Makefile's comment names the flag too), and
    every lock entry an exact `name==version` with hashes: nothing resolved at install time."""
    installs = {
        found.group(1): line
        for line in (ROOT / "Makefile").read_text().splitlines()
        if line.startswith("\t") and (found := re.search(r"-r requirements/(\S+\.lock)", line))
    }
    assert sorted(installs) == ["dev.lock", "runtime.lock"]
    assert all("--require-hashes" in line for line in installs.values()), installs
    for lock in ("runtime.lock", "dev.lock"):
        for line in (ROOT / "requirements" / lock).read_text().splitlines():
            if line and not line.startswith((" ", "#")):
                assert re.match(r"^[A-Za-z0-9_.\-]+(\[[\w,]+\])?==[^\s;]+( ;.*)? \\$", line), line
